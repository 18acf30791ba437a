"""Task runs: the lifecycle of one maintenance TaskRun record (create, enqueue, claim, heartbeat,
finish, sweep of lost workers). The features (cleanup, reaper, capacity) call these; the Celery task in
maintenance.tasks runs a record with the handler of its kind."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from maintenance.models import ACTIVE_STATES, PARALLEL_KINDS, TaskRun, TaskState
from mlopsadmin.audit.operations import audit_operation
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import Conflict, QueueUnavailable
from mlopsadmin.core.formatting import ms_datetime
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib.redaction import scrub
from mlopsadmin.task_queue import send
from notifications import events as notification_events

logger = logging.getLogger(__name__)

RUN_TASK_NAME = "maintenance.tasks.run_maintenance_task"
T = TypeVar("T")
REPORT_LIST_LIMIT = 500  # run lists inside a task report; the full record stays in PlanItem rows


class TaskLost(Exception):
    """The record is no longer ours (swept as interrupted, or taken over): stop working on it."""


def now_ms() -> int:
    """Now, in MLflow's unit (milliseconds since the epoch)."""
    return int(time.time() * 1000)


def fmt_ms(ms: int | None) -> str:
    """An MLflow timestamp (ms) as 'YYYY-MM-DD HH:MM UTC'; '—' when unset; the raw number when it is no
    date (formatting.ms_datetime)."""
    if not ms:
        return "—"
    moment = ms_datetime(ms)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else f"{ms} ms (not a valid date)"


def actor_for(run: TaskRun) -> Any:
    """Who started the task run (the user, or the system actor string): the actor of its audit events."""
    return run.started_by_user if run.started_by_user_id else run.started_by


def task_runs_sweep_stale(*, now: datetime | None = None) -> int:
    """Mark running tasks whose worker stopped beating (killed, OOM, lost host), and queued tasks
    no worker ever picked up, as interrupted. Each gets one audit event."""
    now = now or timezone.now()
    stale_beat = now - timedelta(seconds=settings.MAINTENANCE_HEARTBEAT_STALE_SECONDS)
    stale_queue = now - timedelta(seconds=settings.MAINTENANCE_QUEUED_STALE_SECONDS)
    lost = TaskRun.objects.filter(
        Q(state=TaskState.RUNNING, heartbeat_at__lt=stale_beat)
        | Q(state=TaskState.RUNNING, heartbeat_at__isnull=True, started_at__lt=stale_beat)
        | Q(
            Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale_queue),
            state=TaskState.QUEUED,
            created_at__lt=stale_queue,
        )
    )
    swept = 0
    for run in lost:
        with transaction.atomic():
            before = run.state
            why = (
                f"worker lost: no heartbeat since {run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
                if before == TaskState.RUNNING and run.heartbeat_at
                else "never picked up by a worker"
            )
            updated = TaskRun.objects.filter(pk=run.pk, state=before).update(
                state=TaskState.INTERRUPTED, finished_at=now, errors=[*run.errors, why]
            )
            if updated:
                _audit_task_failure(
                    run, "system:maintenance.sweep", "task.interrupt", before, TaskState.INTERRUPTED, why
                )
                notification_events.task_finished(run, state=TaskState.INTERRUPTED, errors=[why])
                swept += 1
    return swept


def _audit_task_failure(run: TaskRun, actor: str, action: str, before: str, after: str, why: str) -> None:
    """The failed-outcome event of a task run the system gave up on, an item of its task's operation."""
    with audit_operation(head_id=task_start_event_id(run)):
        audit_record(
            actor=actor,
            action=action,
            target_kind="task",
            target_id=run.pk,
            before={"state": before},
            after={"state": after},
            reason=why,
            outcome="failed",
        )


def task_run_create(*, kind: str, parameters: dict[str, Any], actor: Any) -> TaskRun:
    """A queued record; refuses when a task of this kind is already queued or running (except the
    PARALLEL_KINDS).
    The caller writes the one audit event and enqueues after commit."""
    task_runs_sweep_stale()
    active = TaskRun.objects.filter(kind=kind, state__in=ACTIVE_STATES).first() if kind not in PARALLEL_KINDS else None
    if active is not None:
        raise Conflict(f"A {active.get_kind_display().lower()} task is already {active.state} (#{active.pk}).")
    user = actor if actor is not None and not isinstance(actor, str) else None
    started_by = actor if isinstance(actor, str) else (actor.get_username() if actor else "system")
    try:
        with transaction.atomic():
            return TaskRun.objects.create(
                kind=kind, parameters=parameters, started_by=started_by[:150], started_by_user=user, celery_task_id=""
            )
    except IntegrityError as exc:
        raise Conflict(f"A {kind} task is already queued or running.") from exc


RESUMABLE_STATES = (TaskState.INTERRUPTED, TaskState.FAILED)


def task_run_requeue(*, task_run_id: int, note: str) -> TaskRun:
    """Put a stopped record back in the queue, to be resumed by a worker: interrupted (its worker was lost)
    or failed (never started: broker down, or gave up). `note` is added to its errors; its heartbeat is set
    to now (a requeued record counts as queued from now for the sweep). Lost workers are swept first, so a
    record whose worker just died can be requeued without waiting for the beat. Raises Conflict when the
    record is not stopped or another task of its kind is active. The caller audits and enqueues."""
    task_runs_sweep_stale()
    run = TaskRun.objects.filter(pk=task_run_id).first()
    if run is None or run.state not in RESUMABLE_STATES:
        state = run.state if run else "gone"
        raise Conflict(f"Task #{task_run_id} is {state}: only an interrupted or failed task can be resumed.")
    try:
        with transaction.atomic():
            updated = TaskRun.objects.filter(pk=run.pk, state=run.state).update(
                state=TaskState.QUEUED, finished_at=None, heartbeat_at=timezone.now(), errors=[*run.errors, note]
            )
    except IntegrityError as exc:
        raise Conflict(f"Another {run.get_kind_display().lower()} task is queued or running.") from exc
    if not updated:
        raise Conflict(f"Task #{run.pk} was resumed by someone else meanwhile.")
    run.refresh_from_db()
    return run


def task_run_enqueue(run: TaskRun) -> None:
    """Send the record to a worker after the surrounding transaction commits. The Celery task is looked
    up by its name (maintenance.tasks imports the features; the features never import it)."""
    task_id = f"maintenance-{run.pk}-{int(time.time() * 1000)}"
    TaskRun.objects.filter(pk=run.pk).update(celery_task_id=task_id)
    run.celery_task_id = task_id
    transaction.on_commit(lambda: _publish(run, task_id))


def _publish(run: TaskRun, task_id: str) -> None:
    """Publish the message; when the broker refuses, the record (already committed) is marked failed with
    an audit event, so it neither blocks its kind nor claims a start that never happened, and the caller
    gets a clear 503."""
    try:
        send(RUN_TASK_NAME, kwargs={"task_run_id": run.pk}, task_id=task_id)
    except Exception as exc:  # BrokerUnavailable, or anything else on the way: "not published"
        why = f"not started: the task queue (broker) did not accept it ({scrub(str(exc))[:200]})"
        logger.warning("task run %s %s", run.pk, why)
        with transaction.atomic():
            if TaskRun.objects.filter(pk=run.pk, state=TaskState.QUEUED).update(
                state=TaskState.FAILED, finished_at=timezone.now(), errors=[*run.errors, why]
            ):
                _audit_task_failure(
                    run, "system:maintenance.enqueue", "task.enqueue", TaskState.QUEUED, TaskState.FAILED, why
                )
                notification_events.task_finished(run, state=TaskState.FAILED, errors=[why], actor=actor_for(run))
        raise QueueUnavailable(
            f"The task queue (broker) is not answering: task #{run.pk} was not started and is recorded as "
            f"failed. Nothing was changed; try again when the queue is back."
        ) from None


def task_run_claim(*, task_run_id: int, celery_task_id: str = "") -> TaskRun | None:
    """Take the record for this worker with one conditional update. Queued, interrupted (message
    redelivered after a worker died) or running-with-a-dead-heartbeat records can be claimed; a
    finished record or one a live worker holds cannot. None: nothing to do."""
    now = timezone.now()
    stale_beat = now - timedelta(seconds=settings.MAINTENANCE_HEARTBEAT_STALE_SECONDS)
    claimable = Q(state__in=[TaskState.QUEUED, TaskState.INTERRUPTED]) | Q(
        state=TaskState.RUNNING, heartbeat_at__lt=stale_beat
    )
    try:
        with transaction.atomic():
            previous = TaskRun.objects.filter(pk=task_run_id).values_list("state", flat=True).first()
            updated = TaskRun.objects.filter(claimable, pk=task_run_id).update(
                state=TaskState.RUNNING,
                heartbeat_at=now,
                finished_at=None,
                attempts=F("attempts") + 1,
                celery_task_id=celery_task_id or F("celery_task_id"),
            )
    except IntegrityError:
        logger.info("task run %s not claimed: another task of its kind is active", task_run_id)
        return None
    if not updated:
        return None
    run = TaskRun.objects.get(pk=task_run_id)
    changes: dict[str, Any] = {}
    if run.started_at is None:
        changes["started_at"] = now
    if previous in (TaskState.INTERRUPTED, TaskState.RUNNING):
        changes["errors"] = [*run.errors, f"resumed at {now:%Y-%m-%d %H:%M:%S} UTC after an interruption"]
    if changes:
        TaskRun.objects.filter(pk=run.pk).update(**changes)
        for key, value in changes.items():
            setattr(run, key, value)
    return run


def task_run_progress(
    run: TaskRun,
    *,
    done: int | None = None,
    total: int | None = None,
    counts: dict[str, Any] | None = None,
    report: dict[str, Any] | None = None,
) -> None:
    """Record progress (and optionally the report so far) and beat the heart; raises TaskLost if the record
    is no longer ours."""
    changes: dict[str, Any] = {"heartbeat_at": timezone.now()}
    if done is not None:
        changes["progress_done"] = run.progress_done = done
    if total is not None:
        changes["progress_total"] = run.progress_total = total
    if counts is not None:
        changes["counts"] = run.counts = counts
    if report is not None:
        changes["report"] = run.report = report
    if not _ours(run).update(**changes):
        raise TaskLost(f"task run {run.pk} is no longer running here")


def _ours(run: TaskRun) -> Any:
    """The record while this worker's claim holds: running, and not claimed again since (`attempts` is the
    fencing token of a claim), so a worker that was swept as lost and then woke up cannot write over the
    worker that resumed the record."""
    return TaskRun.objects.filter(pk=run.pk, state=TaskState.RUNNING, attempts=run.attempts)


def task_run_hold(run: TaskRun) -> None:
    """Inside a transaction: lock `run`'s record while this worker's claim holds, so no sweep or resume can
    take it over until the transaction ends (a write made under it is fenced). Raises TaskLost when the
    claim was taken over — a worker that was paused (SIGSTOP, VM freeze) and swept must not act on what it
    read before the pause."""
    if not list(_ours(run).select_for_update().values_list("pk", flat=True)):
        raise TaskLost(f"task run {run.pk} is no longer running here")


def task_run_beat(run: TaskRun) -> bool:
    """Write the heartbeat of a running record we hold; False when it is no longer ours."""
    return bool(_ours(run).update(heartbeat_at=timezone.now()))


def task_run_finish(
    run: TaskRun,
    *,
    state: str,
    counts: dict[str, Any] | None = None,
    report: dict[str, Any] | None = None,
    errors: list[str] | None = None,
) -> None:
    changes: dict[str, Any] = {"state": state, "finished_at": timezone.now(), "heartbeat_at": timezone.now()}
    if counts is not None:
        changes["counts"] = counts
    if report is not None:
        changes["report"] = report
    if errors:  # error texts come from libraries (mlflow gc, boto3, requests): no credentials stored
        changes["errors"] = [*run.errors, *(scrub(e) for e in errors)]
    if state == TaskState.SUCCEEDED and run.progress_total:
        changes["progress_done"] = run.progress_total
    if _ours(run).update(**changes):
        notification_events.task_finished(run, state=state, counts=counts, errors=errors)


def task_run_release(run: TaskRun, *, error: str) -> None:
    """A transient failure: give the record back to the queue for the Celery retry."""
    _ours(run).update(state=TaskState.QUEUED, errors=[*run.errors, scrub(error)])


def task_start_event_id(run: TaskRun) -> int | None:
    """The audit event that queued this task run (cleanup.execute, reaper.start ... target task:<id>), the
    operation its events belong to; None when it has none (then the task's first event starts one)."""
    return (
        AuditEvent.objects.filter(target_kind="task", target_id=str(run.pk))
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
