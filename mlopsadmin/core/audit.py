"""Writing and verifying the append-only, hash-chained audit log.

Every state change in mlopsadmin calls `audit_record` exactly once. Secrets never belong in
`before`/`after`: `redact` strips keys that look like credentials before anything is hashed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.core.request_context import current_request_id

GENESIS_HASH = "0" * 64
_CHAIN_LOCK_KEY = 7_231_004  # pg advisory lock id for appending to the chain
SECRET_KEY_PARTS = ("password", "secret", "token", "access_key", "api_key", "credential")


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: ("[redacted]" if any(p in str(k).lower() for p in SECRET_KEY_PARTS) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=True)


def event_digest(event: AuditEvent) -> str:
    content = {
        "occurred_at": event.occurred_at.isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "action": event.action,
        "target_kind": event.target_kind,
        "target_id": event.target_id,
        "team": event.team,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "request_id": event.request_id,
        "outcome": event.outcome,
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(_canonical(content).encode()).hexdigest()


def actor_label(actor: Any) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return str(actor.get_username())


def audit_record(
    *,
    actor: Any,
    action: str,
    target_kind: str,
    target_id: str | int,
    team: str = "",
    before: Any = None,
    after: Any = None,
    reason: str = "",
    outcome: str = "ok",
    request_id: str | None = None,
) -> AuditEvent:
    """Append one event. `actor` is a user, None, or a string like 'system:reaper'."""
    user = actor if actor is not None and not isinstance(actor, str) else None
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        last = AuditEvent.objects.order_by("-id").values_list("event_hash", flat=True).first()
        event = AuditEvent(
            occurred_at=timezone.now(),
            actor=user,
            actor_name=actor_label(actor)[:150],
            action=action,
            target_kind=target_kind,
            target_id=str(target_id)[:512],
            team=team or "",
            before=redact(before),
            after=redact(after),
            reason=reason or "",
            request_id=request_id if request_id is not None else current_request_id.get(),
            outcome=outcome,
            prev_hash=last or GENESIS_HASH,
        )
        # Hash what the database will give back (JSON round trip), so verify() sees the same bytes.
        event.before = json.loads(_canonical(event.before))
        event.after = json.loads(_canonical(event.after))
        event.event_hash = event_digest(event)
        event.save()
    return event


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_break_id: int | None
    problem: str

    @property
    def ok(self) -> bool:
        return self.first_break_id is None


def audit_verify_chain(*, batch_size: int = 5000) -> ChainReport:
    """Walk the chain oldest first; report the first event whose hash or link does not match."""
    expected_prev = GENESIS_HASH
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=batch_size):
        if event.prev_hash != expected_prev:
            return ChainReport(checked, event.id,
                               "link to the previous event is broken (a row was removed or reordered)")
        if event_digest(event) != event.event_hash:
            return ChainReport(checked, event.id, "content does not match its hash (the row was altered)")
        expected_prev = event.event_hash
        checked += 1
    return ChainReport(checked, None, "")
