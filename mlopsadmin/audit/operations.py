"""Operations: the audit events of one multi-item action (a cleanup and its run deletions, a reaper run,
an apply_config) carry the id of the operation's first event in `AuditEvent.operation_id`, so the audit
page shows one row per operation with its items folded under it. Each event stays its own link in the
hash chain (the operation id is hashed with it).

    with audit_operation():                 # the first event recorded inside starts the operation
        for change in changes:
            audit_record(...)

    with audit_operation(head_id=event.id): # an operation started by an event already recorded
        ...                                 # (a task's start event, recorded when it was queued)

Operations do not nest: inside one, `audit_operation()` joins it; `audit_operation(head_id=…)` names its
operation explicitly and holds for its block whatever surrounds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class Operation:
    """The operation being recorded: `head_id` is its first event's id (None until one is recorded)."""

    head_id: int | None = None


_current: ContextVar[Operation | None] = ContextVar("audit_operation", default=None)


def current() -> Operation | None:
    """The operation the events recorded now belong to, or None (single events)."""
    return _current.get()


@contextmanager
def audit_operation(head_id: int | None = None) -> Iterator[Operation]:
    """Group the audit events recorded inside into one operation (see the module docstring). `head_id`:
    the event that started it, when it was recorded earlier (elsewhere: a web request queued the task)."""
    running = _current.get()
    if running is not None and head_id is None:
        yield running
        return
    operation = Operation(head_id=head_id)
    token = _current.set(operation)
    try:
        yield operation
    finally:
        _current.reset(token)
