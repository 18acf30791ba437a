"""Running a TaskRun: the worker's claim → handler → outcome (`task_run_execute`, with the heartbeat thread),
and the same in this process (`task_run_here`: a shell, a test, a bench). The record's lifecycle (create,
enqueue, claim, progress, finish, sweep) is in maintenance.task_runs."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connections

from maintenance.models import TaskRun, TaskState
from maintenance.task_runs import (
    TaskLost,
    task_run_beat,
    task_run_claim,
    task_run_create,
    task_run_finish,
    task_run_release,
    task_start_event_id,
)
from mlopsadmin.audit.operations import audit_operation
from mlopsadmin.core.errors import Conflict
from mlopsadmin.lib import locks
from mlopsadmin.lib import mlflow_client as mlf

logger = logging.getLogger(__name__)
T = TypeVar("T")


@contextlib.contextmanager
def heartbeat(run: TaskRun, *, every: float) -> Iterator[None]:
    """Beat `run`'s heartbeat every `every` seconds from a thread while the body runs, so one long step (a
    slow MLflow call, a purge) is not taken for a lost worker; the thread dies with the worker process,
    which is what the sweep (task_runs_sweep_stale) detects. `every` <= 0: no thread (progress calls beat)."""
    if every <= 0:
        yield
        return
    with locks.renewing(lambda: task_run_beat(run), every=every, name=f"task run {run.pk}", done=connections.close_all):
        yield


@dataclass(frozen=True)
class Handler:
    """What a worker does for one task kind: `run(task_run)`, and `failed(task_run)` to put the
    feature's own records back in order when the run fails (optional)."""

    run: Callable[[TaskRun], object]  # its return value is not used
    failed: Callable[[TaskRun], None] | None = None


def task_run_execute(
    *,
    task_run_id: int,
    handlers: dict[str, Handler],
    celery_task_id: str = "",
    can_retry: bool = False,
    heartbeat_seconds: float = 0,
) -> str:
    """What the Celery task does: claim, run the handler for the kind (`handlers`, keyed by TaskKind) while a
    thread beats the heartbeat every `heartbeat_seconds` (0: only progress calls beat), record the outcome.
    MlflowUnavailable is re-raised (after releasing the record) when Celery may retry.
    Returns "not claimed", "lost", "failed" or "done"."""
    run = task_run_claim(task_run_id=task_run_id, celery_task_id=celery_task_id)
    if run is None:
        return "not claimed"
    with heartbeat(run, every=heartbeat_seconds):
        return _run_handler(run, handlers[run.kind], can_retry=can_retry)


def _run_handler(run: TaskRun, handler: Handler, *, can_retry: bool) -> str:
    try:
        with audit_operation(head_id=task_start_event_id(run)):  # its audit events are items of its start
            handler.run(run)
    except TaskLost as exc:
        logger.warning("%s", exc)
        return "lost"
    except mlf.MlflowUnavailable as exc:
        if can_retry:
            task_run_release(run, error=f"MLflow unavailable, will retry: {exc}")
            raise
        task_run_finish(run, state=TaskState.FAILED, errors=[f"MLflow unavailable: {exc}"])
        _failed(handler, run)
        return "failed"
    except Exception as exc:
        logger.exception("maintenance task %s failed", run.pk)
        task_run_finish(run, state=TaskState.FAILED, errors=[f"{type(exc).__name__}: {exc}"[:1000]])
        _failed(handler, run)
        return "failed"
    return "done"


def _failed(handler: Handler, run: TaskRun) -> None:
    if handler.failed is not None:
        handler.failed(run)


def task_run_here(*, kind: str, parameters: dict[str, Any], actor: Any, handler: Callable[[TaskRun], T]) -> T:
    """Create, claim and run a TaskRun of `kind` in this process (a shell, a test, a bench) — the same record
    a worker writes — and return what `handler` returns. Raises Conflict when one of the kind is already
    queued or running; re-raises the handler's error after recording the run as failed."""
    created = task_run_create(kind=kind, parameters=parameters, actor=actor)
    run = task_run_claim(task_run_id=created.pk)
    if run is None:
        raise Conflict(f"A {created.get_kind_display().lower()} is already running; wait for it to finish.")
    try:
        return handler(run)
    except Exception as exc:
        task_run_finish(run, state=TaskState.FAILED, errors=[f"{type(exc).__name__}: {exc}"[:1000]])
        raise
