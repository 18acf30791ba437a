"""Maintenance services: task-run lifecycle (claim, heartbeat, sweep), the two-step cleanup, the
stuck-run reaper and the capacity check. Pages, the API and the Celery tasks all call these."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from maintenance import capacity as capacity_probe
from maintenance import storage
from maintenance.models import (
    ACTIVE_STATES,
    CapacitySample,
    CleanupPlan,
    ItemOutcome,
    PlanItem,
    PlanState,
    TaskKind,
    TaskRun,
    TaskState,
)
from mlopsadmin.core.audit import audit_record
from mlopsadmin.core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from mlopsadmin.core.models import Team
from mlopsadmin.core.notify import notification_send
from mlopsadmin.core.redaction import scrub
from mlopsadmin.core.selectors import all_teams, team_for_experiment_name
from mlopsadmin.lib import mlflow_client as mlf

logger = logging.getLogger(__name__)

CLEANUP_STATUSES = ("FAILED", "KILLED", "FINISHED")
DEFAULT_CLEANUP_STATUSES = ["FAILED", "KILLED"]
SCOPES = ("experiment", "team", "all")
REPORT_LIST_LIMIT = 500  # run lists inside a task report; the full record stays in PlanItem rows
REAPED_AT_TAG = "mlopsadmin.reaped_at"
REAP_REASON_TAG = "mlopsadmin.reap_reason"


class TaskLost(Exception):
    """The record is no longer ours (swept as interrupted, or taken over): stop working on it."""


def _now_ms() -> int:
    return int(time.time() * 1000)


def _fmt_ms(ms: int | None) -> str:
    if not ms:
        return "—"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _actor_for(run: TaskRun) -> Any:
    return run.started_by_user if run.started_by_user_id else run.started_by


# --- Task runs ---------------------------------------------------------------------------------
def task_runs_sweep_stale(*, now: datetime | None = None) -> int:
    """Mark running tasks whose worker stopped beating (killed, OOM, lost host), and queued tasks
    no worker ever picked up, as interrupted. Each gets one audit event."""
    now = now or timezone.now()
    stale_beat = now - timedelta(seconds=settings.MAINTENANCE_HEARTBEAT_STALE_SECONDS)
    stale_queue = now - timedelta(seconds=settings.MAINTENANCE_QUEUED_STALE_SECONDS)
    lost = TaskRun.objects.filter(
        Q(state=TaskState.RUNNING, heartbeat_at__lt=stale_beat)
        | Q(state=TaskState.RUNNING, heartbeat_at__isnull=True, started_at__lt=stale_beat)
        | Q(state=TaskState.QUEUED, created_at__lt=stale_queue)
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
                audit_record(
                    actor="system:maintenance.sweep",
                    action="task.interrupt",
                    target_kind="task",
                    target_id=run.pk,
                    before={"state": before},
                    after={"state": "interrupted"},
                    reason=why,
                    outcome="failed",
                )
                swept += 1
    return swept


def task_run_create(*, kind: str, parameters: dict[str, Any], actor: Any) -> TaskRun:
    """A queued record; refuses when a task of this kind is already queued or running.
    The caller writes the one audit event and enqueues after commit."""
    task_runs_sweep_stale()
    active = TaskRun.objects.filter(kind=kind, state__in=ACTIVE_STATES).first()
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


def _enqueue(run: TaskRun) -> None:
    from maintenance.tasks import run_maintenance_task

    task_id = f"maintenance-{run.pk}-{int(time.time() * 1000)}"
    TaskRun.objects.filter(pk=run.pk).update(celery_task_id=task_id)
    run.celery_task_id = task_id
    transaction.on_commit(lambda: run_maintenance_task.apply_async(kwargs={"task_run_id": run.pk}, task_id=task_id))


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
    run: TaskRun, *, done: int | None = None, total: int | None = None, counts: dict[str, Any] | None = None
) -> None:
    """Record progress and beat the heart; raises TaskLost if the record is no longer ours."""
    changes: dict[str, Any] = {"heartbeat_at": timezone.now()}
    if done is not None:
        changes["progress_done"] = run.progress_done = done
    if total is not None:
        changes["progress_total"] = run.progress_total = total
    if counts is not None:
        changes["counts"] = run.counts = counts
    if not TaskRun.objects.filter(pk=run.pk, state=TaskState.RUNNING).update(**changes):
        raise TaskLost(f"task run {run.pk} is no longer running")


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
    TaskRun.objects.filter(pk=run.pk, state=TaskState.RUNNING).update(**changes)


def task_run_release(run: TaskRun, *, error: str) -> None:
    """A transient failure: give the record back to the queue for the Celery retry."""
    TaskRun.objects.filter(pk=run.pk, state=TaskState.RUNNING).update(
        state=TaskState.QUEUED, errors=[*run.errors, scrub(error)]
    )


def task_run_execute(*, task_run_id: int, celery_task_id: str = "", can_retry: bool = False) -> str:
    """What the Celery task does: claim, run the handler for the kind, record the outcome.
    MlflowUnavailable is re-raised (after releasing the record) when Celery may retry."""
    run = task_run_claim(task_run_id=task_run_id, celery_task_id=celery_task_id)
    if run is None:
        return "not claimed"
    handler = HANDLERS[run.kind]
    try:
        handler(run)
    except TaskLost as exc:
        logger.warning("%s", exc)
        return "lost"
    except mlf.MlflowUnavailable as exc:
        if can_retry:
            task_run_release(run, error=f"MLflow unavailable, will retry: {exc}")
            raise
        task_run_finish(run, state=TaskState.FAILED, errors=[f"MLflow unavailable: {exc}"])
        _plan_failed(run)
        return "failed"
    except Exception as exc:
        logger.exception("maintenance task %s failed", run.pk)
        task_run_finish(run, state=TaskState.FAILED, errors=[f"{type(exc).__name__}: {exc}"[:1000]])
        _plan_failed(run)
        return "failed"
    return "done"


def _plan_failed(run: TaskRun) -> None:
    plan_id = run.parameters.get("plan_id")
    if not plan_id:
        return
    if run.kind == TaskKind.CLEANUP_PLAN:
        CleanupPlan.objects.filter(pk=plan_id, state=PlanState.PLANNING).update(state=PlanState.FAILED)
    elif run.kind == TaskKind.CLEANUP_EXECUTE:
        # what was deleted stays recorded per item; the rest of the plan can be executed again
        CleanupPlan.objects.filter(pk=plan_id, state=PlanState.EXECUTING).update(state=PlanState.READY)


# --- Cleanup: plan ----------------------------------------------------------------------------
def _validate_plan_input(
    scope: str, scope_value: str, older_than_days: int | None, statuses: list[str] | None
) -> tuple[str, int, list[str]]:
    if scope not in SCOPES:
        raise InvalidInput(f"Scope must be one of {', '.join(SCOPES)}.")
    scope_value = (scope_value or "").strip()
    if scope != "all" and not scope_value:
        raise InvalidInput(f"Name the {scope} to clean up.")
    days = settings.MAINTENANCE_CLEANUP_DEFAULT_DAYS if older_than_days is None else older_than_days
    if not isinstance(days, int) or days < 0 or days > 36500:
        raise InvalidInput("'older than' must be a whole number of days between 0 and 36500.")
    chosen = [s.strip().upper() for s in (statuses or DEFAULT_CLEANUP_STATUSES) if s and s.strip()]
    bad = [s for s in chosen if s not in CLEANUP_STATUSES]
    if bad or not chosen:
        raise InvalidInput(
            f"Statuses must be chosen from {', '.join(CLEANUP_STATUSES)} (RUNNING runs are never deleted)."
        )
    return scope_value, days, sorted(set(chosen))


def _resolve_scope_value(scope: str, scope_value: str) -> str:
    if scope == "team":
        if not Team.objects.filter(name=scope_value).exists():
            raise InvalidInput(f"Unknown team '{scope_value}'.")
    elif scope == "experiment":
        experiment = None
        if scope_value.isdigit():
            try:
                experiment = mlf.get_experiment(scope_value)
            except (mlf.MlflowNotFound, mlf.MlflowInvalid):
                experiment = None
        if experiment is None:
            try:
                experiment = mlf.get_experiment_by_name(scope_value)
            except mlf.MlflowInvalid:
                experiment = None
        if experiment is None or experiment.is_deleted:
            raise NotFound(f"No active experiment '{scope_value}'.")
        return experiment.experiment_id
    return scope_value


def cleanup_plan_create(
    *,
    actor: Any,
    scope: str,
    scope_value: str = "",
    older_than_days: int | None = None,
    statuses: list[str] | None = None,
) -> CleanupPlan:
    """Queue a dry run that lists what a cleanup would delete, and why each other run is kept."""
    scope_value, days, chosen = _validate_plan_input(scope, scope_value, older_than_days, statuses)
    scope_value = _resolve_scope_value(scope, scope_value)
    cutoff_ms = _now_ms() - days * 86_400_000
    with transaction.atomic():
        run = task_run_create(kind=TaskKind.CLEANUP_PLAN, parameters={}, actor=actor)
        plan = CleanupPlan.objects.create(
            scope=scope,
            scope_value=scope_value,
            older_than_days=days,
            statuses=chosen,
            cutoff_ms=cutoff_ms,
            created_by=run.started_by,
            plan_task=run,
        )
        run.parameters = {
            "plan_id": plan.pk,
            "scope": scope,
            "scope_value": scope_value,
            "older_than_days": days,
            "statuses": chosen,
        }
        run.save(update_fields=["parameters"])
        audit_record(
            actor=actor,
            action="cleanup.plan",
            target_kind="task",
            target_id=run.pk,
            team=scope_value if scope == "team" else "",
            after=run.parameters,
            reason=f"dry run: runs {'/'.join(chosen)} older than {days} days",
        )
        _enqueue(run)
    return plan


def _scope_experiments(plan: CleanupPlan) -> list[mlf.Experiment]:
    if plan.scope == "experiment":
        return [mlf.get_experiment(plan.scope_value)]
    experiments = list(mlf.iter_experiments())
    if plan.scope == "team":
        team = Team.objects.get(name=plan.scope_value)
        experiments = [e for e in experiments if team_for_experiment_name(e.name, [team]) is not None]
    return experiments


def _exclusion_reason(run: mlf.Run, protected: set[str]) -> str:
    if run.status == "RUNNING":
        return "still RUNNING (stuck runs are the reaper's job)"
    if run.tags.get("keep", "").strip().lower() == "true":
        return "tagged keep=true"
    if run.tags.get("mlflow.registeredModelName"):
        return f"tagged mlflow.registeredModelName={run.tags['mlflow.registeredModelName']}"[:256]
    if run.run_id in protected:
        return "source of a registered model version"
    return ""


CHUNK_EXPERIMENTS = 50  # at most this many experiments per fetch thread


def _stream_scope(
    plan: CleanupPlan, out: queue.Queue[Any], stop: threading.Event
) -> Callable[[list[mlf.Experiment]], None]:
    """The fetch side of planning: for a chunk of experiments, the candidates (server-filtered by status
    and end time) and the old RUNNING runs, put on a bounded queue page by page with each run's
    estimated artifact size."""
    page_size = settings.MAINTENANCE_RUNS_PAGE_SIZE
    # The server filters (status equality only: MLflow allows IN lists for run_id alone).
    queries = [f"attributes.status = '{status}' AND attributes.end_time < {plan.cutoff_ms}" for status in plan.statuses]
    queries.append(f"attributes.status = 'RUNNING' AND attributes.start_time < {plan.cutoff_ms}")

    def fetch(chunk: list[mlf.Experiment]) -> None:
        # One experiment per query: each result set stays small, so the server never sorts and
        # offsets through a huge multi-experiment result page after page.
        try:
            for experiment in chunk:
                sizes: dict[str, int] | None = None
                sized = False
                for query in queries:
                    batch: list[tuple[mlf.Run, int | None]] = []
                    for mrun in mlf.iter_runs([experiment.experiment_id], filter_string=query, page_size=page_size):
                        if stop.is_set():
                            return
                        if not sized:
                            sizes, sized = _run_sizes(experiment), True
                        batch.append((mrun, None if sizes is None else sizes.get(mrun.run_id, 0)))
                        if len(batch) >= page_size:
                            out.put(("runs", batch))
                            batch = []
                    if batch:
                        out.put(("runs", batch))
                out.put(("done", 1))
        except Exception as exc:  # handed to the consuming thread, which decides
            out.put(("error", exc))

    return fetch


def _run_sizes(experiment: mlf.Experiment) -> dict[str, int] | None:
    try:
        return storage.sizes_by_run(storage.resolve(experiment.artifact_location))
    except Exception as exc:  # a size estimate must never stop a plan
        logger.warning("artifact sizes of experiment %s unavailable: %s", experiment.experiment_id, exc)
        return None


def _chunks(experiments: list[mlf.Experiment], parallelism: int) -> list[list[mlf.Experiment]]:
    size = max(1, min(CHUNK_EXPERIMENTS, -(-len(experiments) // max(1, parallelism))))
    return [experiments[i : i + size] for i in range(0, len(experiments), size)]


def _stream_store(
    plan: CleanupPlan, out: queue.Queue[Any], stop: threading.Event
) -> Callable[[list[mlf.Experiment]], None]:
    """The fetch side of planning from the backend store (read-only): one streamed query over the
    scope's experiments, ordered by experiment, the same runs the tracking-API queries return; put on
    the same bounded queue in batches, one "done" per experiment."""
    uri = settings.MLFLOW_BACKEND_STORE_URI
    page_size = settings.MAINTENANCE_RUNS_PAGE_SIZE

    def fetch(experiments: list[mlf.Experiment]) -> None:
        by_id = {e.experiment_id: e for e in experiments}
        current, sizes, finished = "", None, 0
        batch: list[tuple[mlf.Run, int | None]] = []
        try:
            for mrun in mlf.iter_store_cleanup_runs(uri, list(by_id), statuses=plan.statuses, cutoff_ms=plan.cutoff_ms):
                if stop.is_set():
                    return
                if mrun.experiment_id != current or len(batch) >= page_size:
                    if batch:
                        out.put(("runs", batch))
                        batch = []
                    if mrun.experiment_id != current:
                        if current:
                            out.put(("done", 1))
                            finished += 1
                        current, sizes = mrun.experiment_id, _run_sizes(by_id[mrun.experiment_id])
                batch.append((mrun, None if sizes is None else sizes.get(mrun.run_id, 0)))
            if batch:
                out.put(("runs", batch))
            out.put(("done", len(experiments) - finished))
        except Exception as exc:  # handed to the consuming thread, which decides
            out.put(("error", exc))

    return fetch


def _plan_source() -> tuple[str, str]:
    """(source, note): the backend store when it is configured, reachable and on the installed MLflow's
    schema revision; otherwise the tracking API, and why."""
    if not settings.MAINTENANCE_PLAN_READ_STORE:
        return mlf.SOURCE_API, "MAINTENANCE_PLAN_READ_STORE is off"
    why = mlf.backend_store_unusable_reason(settings.MLFLOW_BACKEND_STORE_URI)
    if why:
        logger.info("cleanup plan: listing runs through the tracking API: %s", why)
        return mlf.SOURCE_API, why
    return mlf.SOURCE_STORE, ""


def cleanup_plan_build(run: TaskRun) -> None:
    """Handler: list every matching run of the scope (from the backend store when usable, else through
    the tracking API: all pages, chunks of experiments in parallel), classify each as candidate or
    exclusion, store them as PlanItems."""
    plan = CleanupPlan.objects.get(pk=run.parameters["plan_id"])
    source, note = _plan_source()
    try:
        counts, by_reason = _plan_items(run, plan, from_store=source == mlf.SOURCE_STORE)
    except mlf.BackendStoreError as exc:
        logger.warning("cleanup plan #%s: %s; listing again through the tracking API", plan.pk, exc)
        source, note = mlf.SOURCE_API, f"{exc}; listed again through the tracking API"
        counts, by_reason = _plan_items(run, plan, from_store=False)
    with transaction.atomic():
        CleanupPlan.objects.filter(pk=plan.pk).update(
            state=PlanState.READY,
            planned_at=timezone.now(),
            candidate_count=counts["candidates"],
            excluded_count=counts["excluded"],
            estimated_bytes=counts["estimated_bytes"],
        )
        task_run_finish(
            run,
            state=TaskState.SUCCEEDED,
            counts=counts,
            report={
                "plan_id": plan.pk,
                "exclusions_by_reason": by_reason,
                "scope": plan.scope_label,
                "cutoff": _fmt_ms(plan.cutoff_ms),
                "source": source,
                "source_note": note,
            },
        )


def _plan_items(run: TaskRun, plan: CleanupPlan, *, from_store: bool) -> tuple[dict[str, int], dict[str, int]]:
    """Stream the scope's runs from one source into PlanItems; (counts, exclusions by reason)."""
    PlanItem.objects.filter(plan=plan).delete()  # a retried plan starts over
    experiments = _scope_experiments(plan)
    by_id = {e.experiment_id: e for e in experiments}
    team_list = all_teams()
    teams = {e.experiment_id: team_for_experiment_name(e.name, team_list) for e in experiments}
    protected = mlf.run_ids_backing_model_versions(store_uri=settings.MLFLOW_BACKEND_STORE_URI if from_store else "")
    task_run_progress(run, done=0, total=len(experiments))
    out: queue.Queue[Any] = queue.Queue(maxsize=8)  # bounded: memory stays a few pages
    stop = threading.Event()
    if from_store:
        fetch, chunks = _stream_store(plan, out, stop), [experiments]
    else:
        fetch, chunks = _stream_scope(plan, out, stop), _chunks(experiments, settings.MAINTENANCE_PLAN_PARALLELISM)
    counts = {"candidates": 0, "excluded": 0, "experiments": len(experiments), "estimated_bytes": 0}
    by_reason: dict[str, int] = {}
    pending: list[PlanItem] = []
    finished = 0
    with ThreadPoolExecutor(max_workers=max(1, len(chunks)), thread_name_prefix="cleanup-plan") as pool:
        for chunk in chunks:
            pool.submit(fetch, chunk)
        try:
            while finished < len(experiments):
                message = out.get()
                if message[0] == "error":
                    raise message[1]
                if message[0] == "done":
                    finished += message[1]
                    task_run_progress(run, done=finished, counts=counts)
                    continue
                for mrun, size in message[1]:
                    pending.append(
                        _plan_item(
                            plan,
                            mrun,
                            by_id[mrun.experiment_id],
                            teams[mrun.experiment_id],
                            protected,
                            size,
                            counts,
                            by_reason,
                        )
                    )
                if len(pending) >= 1000:
                    PlanItem.objects.bulk_create(pending, ignore_conflicts=True)
                    pending = []
                    task_run_progress(run, done=finished, counts=counts)
        finally:
            stop.set()
            while not out.empty():  # unblock producers waiting on a full queue
                out.get_nowait()
    PlanItem.objects.bulk_create(pending, ignore_conflicts=True)
    return counts, by_reason


def _plan_item(
    plan: CleanupPlan,
    mrun: mlf.Run,
    experiment: mlf.Experiment,
    team: Team | None,
    protected: set[str],
    size: int | None,
    counts: dict[str, int],
    by_reason: dict[str, int],
) -> PlanItem:
    excluded_reason = _exclusion_reason(mrun, protected)
    if excluded_reason:
        counts["excluded"] += 1
        by_reason[excluded_reason.split("=")[0]] = by_reason.get(excluded_reason.split("=")[0], 0) + 1
        reason = excluded_reason
    else:
        counts["candidates"] += 1
        counts["estimated_bytes"] += size or 0
        age_days = (_now_ms() - (mrun.end_time or 0)) // 86_400_000
        reason = f"{mrun.status}, ended {_fmt_ms(mrun.end_time)} ({age_days} days ago > {plan.older_than_days})"
    return PlanItem(
        plan=plan,
        run_id=mrun.run_id,
        experiment_id=experiment.experiment_id,
        experiment_name=experiment.name[:512],
        team=team.name if team else "",
        run_name=mrun.run_name[:256],
        status=mrun.status,
        end_time=mrun.end_time,
        excluded=bool(excluded_reason),
        reason=reason[:256],
        estimated_bytes=size,
    )


# --- Cleanup: execute -------------------------------------------------------------------------
def cleanup_plan_execute(*, actor: Any, plan_id: int, confirm: bool, purge: bool = False) -> TaskRun:
    """The operator confirms a reviewed plan; a worker deletes exactly its candidates."""
    if not confirm:
        raise InvalidInput("Confirm that you reviewed the plan before executing it.")
    plan = CleanupPlan.objects.filter(pk=plan_id).first() if 0 < plan_id < 2**63 else None
    if plan is None:
        raise NotFound(f"No cleanup plan #{plan_id}.")
    if plan.state != PlanState.READY:
        raise Conflict(f"Plan #{plan.pk} is {plan.get_state_display().lower()}, not ready to execute.")
    max_age = timedelta(hours=settings.MAINTENANCE_PLAN_MAX_AGE_HOURS)
    if plan.planned_at and timezone.now() - plan.planned_at > max_age:
        raise RuleViolation(
            f"Plan #{plan.pk} is older than {settings.MAINTENANCE_PLAN_MAX_AGE_HOURS:g} hours; "
            f"make a new plan and review it again."
        )
    if purge and not settings.MLFLOW_BACKEND_STORE_URI:
        raise InvalidInput("Purging needs MLFLOW_BACKEND_STORE_URI (the tracking server's backend store).")
    with transaction.atomic():
        run = task_run_create(
            kind=TaskKind.CLEANUP_EXECUTE, parameters={"plan_id": plan.pk, "purge": bool(purge)}, actor=actor
        )
        taken = CleanupPlan.objects.filter(pk=plan.pk, state=PlanState.READY).update(
            state=PlanState.EXECUTING, execute_task=run, executed_by=run.started_by, purge=bool(purge)
        )
        if not taken:
            raise Conflict(f"Plan #{plan.pk} was taken by someone else.")
        audit_record(
            actor=actor,
            action="cleanup.execute",
            target_kind="task",
            target_id=run.pk,
            team=plan.scope_value if plan.scope == "team" else "",
            before={"plan_id": plan.pk, "candidates": plan.candidate_count},
            after={"plan_id": plan.pk, "purge": bool(purge)},
            reason=f"execute reviewed plan #{plan.pk} ({plan.scope_label})",
        )
        _enqueue(run)
    return run


def _ineligible_now(item: PlanItem, fresh: mlf.Run, plan: CleanupPlan, protected: set[str]) -> str:
    if fresh.lifecycle_stage == "deleted":
        return "already deleted"
    if fresh.status not in plan.statuses:
        return f"status changed to {fresh.status} since planning"
    if not fresh.end_time or fresh.end_time >= plan.cutoff_ms:
        return "ended after the plan's cutoff (changed since planning)"
    reason = _exclusion_reason(fresh, protected)
    if reason:
        return f"{reason} (changed since planning)"
    if any(True for _ in mlf.iter_model_versions(filter_string=f"run_id = '{fresh.run_id}'")):
        return "source of a registered model version (changed since planning)"
    return ""


def cleanup_plan_run(run: TaskRun) -> None:
    """Handler: delete exactly the plan's candidates, re-checking each at that moment. Each item is
    claimed with a conditional update, so retries and second workers never delete twice."""
    plan = CleanupPlan.objects.get(pk=run.parameters["plan_id"])
    protected = mlf.run_ids_backing_model_versions()
    candidates = plan.items.filter(excluded=False)
    total = candidates.count()
    counts = {"deleted": 0, "skipped": 0, "failed": 0}
    finished_items = candidates.exclude(outcome__in=[ItemOutcome.PENDING, ItemOutcome.CLAIMED])
    for row in finished_items.values("outcome").annotate(n=Count("id")):
        counts[row["outcome"]] = row["n"]
    done = sum(counts.values())
    task_run_progress(run, done=done, total=total, counts=counts)
    ids = list(
        candidates.filter(outcome__in=[ItemOutcome.PENDING, ItemOutcome.CLAIMED])
        .order_by("id")
        .values_list("id", flat=True)
    )
    actor = _actor_for(run)
    for item_id in ids:
        outcome = _execute_item(item_id, plan, protected, actor)
        if outcome:
            counts[outcome] += 1
            done += 1
            task_run_progress(run, done=done, counts=counts)
    report: dict[str, Any] = {"plan_id": plan.pk}
    errors: list[str] = []
    if plan.purge and counts["deleted"]:
        report["purge"] = _purge(plan, errors)
    with transaction.atomic():
        CleanupPlan.objects.filter(pk=plan.pk).update(state=PlanState.EXECUTED)
        skipped = list(
            plan.items.filter(excluded=False, outcome=ItemOutcome.SKIPPED).values("run_id", "outcome_reason")[
                :REPORT_LIST_LIMIT
            ]
        )
        report["skipped"] = skipped
        state = TaskState.SUCCEEDED if not counts["failed"] and not errors else TaskState.FAILED
        task_run_finish(run, state=state, counts=counts, report=report, errors=errors)


def _execute_item(item_id: int, plan: CleanupPlan, protected: set[str], actor: Any) -> str:
    """Claim, re-check and delete one run. Returns the final outcome, or '' if it was not ours."""
    resumed = False
    if not PlanItem.objects.filter(pk=item_id, outcome=ItemOutcome.PENDING).update(outcome=ItemOutcome.CLAIMED):
        # claimed earlier by this same task run before an interruption: finish it now
        if not PlanItem.objects.filter(pk=item_id, outcome=ItemOutcome.CLAIMED).exists():
            return ""
        resumed = True
    item = PlanItem.objects.get(pk=item_id)
    try:
        fresh = mlf.get_run(item.run_id)
    except mlf.MlflowNotFound:
        return _item_done(item, ItemOutcome.SKIPPED, "run no longer exists")
    reason = _ineligible_now(item, fresh, plan, protected)
    if reason == "already deleted" and resumed:
        return _item_done(item, ItemOutcome.DELETED, "deleted (confirmed after a retry)")
    if reason:
        return _item_done(item, ItemOutcome.SKIPPED, reason)
    try:
        mlf.delete_run(item.run_id)
    except mlf.MlflowUnavailable:
        raise  # the item stays claimed; the retry finishes it
    except mlf.MlflowError as exc:
        return _item_done(item, ItemOutcome.FAILED, str(exc)[:256])
    with transaction.atomic():
        outcome = _item_done(item, ItemOutcome.DELETED, f"deleted by plan #{plan.pk}")
        audit_record(
            actor=actor,
            action="run.delete",
            target_kind="run",
            target_id=item.run_id,
            team=item.team,
            before={"lifecycle_stage": "active", "status": fresh.status, "experiment_id": item.experiment_id},
            after={"lifecycle_stage": "deleted"},
            reason=f"cleanup plan #{plan.pk}: {item.reason}",
        )
    return outcome


def _item_done(item: PlanItem, outcome: str, reason: str) -> str:
    PlanItem.objects.filter(pk=item.pk).update(outcome=outcome, outcome_reason=reason[:256], executed_at=timezone.now())
    return outcome


def _purge(plan: CleanupPlan, errors: list[str]) -> dict[str, Any]:
    """`mlflow gc` for exactly the runs this plan deleted (in chunks), bytes reclaimed from the plan's
    per-run artifact sizes."""
    deleted = plan.items.filter(excluded=False, outcome=ItemOutcome.DELETED)
    run_ids, purged = [], 0
    for run_id in deleted.values_list("run_id", flat=True):
        try:
            mlf.get_run(run_id)
            run_ids.append(run_id)
        except mlf.MlflowNotFound:  # purged by an earlier attempt of this task: safe to retry
            purged += 1
    for start in range(0, len(run_ids), 200):
        chunk = run_ids[start : start + 200]
        result = mlf.run_gc(
            backend_store_uri=settings.MLFLOW_BACKEND_STORE_URI,
            run_ids=chunk,
            artifacts_destination=settings.MLFLOW_ARTIFACTS_DESTINATION or None,
        )
        if result.returncode != 0:
            errors.append(f"mlflow gc failed for {len(chunk)} runs: {(result.stderr or result.stdout)[-500:]}")
        else:
            purged += len(chunk)
    reclaimed = deleted.aggregate(total=Sum("estimated_bytes"))["total"] or 0
    return {"runs_purged": purged, "artifact_bytes_reclaimed": reclaimed if purged == deleted.count() else None}


# --- Stuck-run reaper -------------------------------------------------------------------------
def reaper_start(
    *, actor: Any, dry_run: bool = True, threshold_hours: float | None = None, experiment: str = ""
) -> TaskRun:
    """Queue a reap (or its dry run) over all experiments, or one experiment (id or name)."""
    hours = settings.MAINTENANCE_REAPER_THRESHOLD_HOURS if threshold_hours is None else threshold_hours
    if not isinstance(hours, int | float) or not 0.01 <= float(hours) <= 24 * 365:
        raise InvalidInput("Threshold must be between 0.01 and 8760 hours.")
    experiment_id = _resolve_scope_value("experiment", experiment.strip()) if experiment.strip() else ""
    with transaction.atomic():
        run = task_run_create(
            kind=TaskKind.REAPER,
            parameters={"dry_run": bool(dry_run), "threshold_hours": float(hours), "experiment_id": experiment_id},
            actor=actor,
        )
        audit_record(
            actor=actor,
            action="reaper.start",
            target_kind="task",
            target_id=run.pk,
            after=run.parameters,
            reason="dry run" if dry_run else "reap stuck runs",
        )
        _enqueue(run)
    return run


def reaper_run(run: TaskRun) -> None:
    """Handler: RUNNING, no end time, started before the threshold and no metric logged within it
    → terminated as FAILED and tagged with when and why (unless a dry run)."""
    dry_run = bool(run.parameters.get("dry_run", True))
    hours = float(run.parameters.get("threshold_hours", settings.MAINTENANCE_REAPER_THRESHOLD_HOURS))
    cutoff_ms = _now_ms() - int(hours * 3_600_000)
    scoped = run.parameters.get("experiment_id") or ""
    experiments = [mlf.get_experiment(scoped)] if scoped else list(mlf.iter_experiments())
    names = {e.experiment_id: e.name for e in experiments}
    teams = all_teams()
    # Collect first, change later: terminating runs while paging would shift the server's offsets.
    suspects: list[dict[str, Any]] = []
    alive: list[dict[str, Any]] = []
    ids = [e.experiment_id for e in experiments]
    query = f"attributes.status = 'RUNNING' AND attributes.start_time < {cutoff_ms}"
    seen = alive_count = 0
    for start in range(0, len(ids), 100):
        for mrun in mlf.iter_runs(
            ids[start : start + 100], filter_string=query, page_size=settings.MAINTENANCE_RUNS_PAGE_SIZE
        ):
            entry = {
                "run_id": mrun.run_id,
                "experiment_id": mrun.experiment_id,
                "run_name": mrun.run_name,
                "started": _fmt_ms(mrun.start_time),
                "last_metric": _fmt_ms(mrun.last_metric_time),
            }
            if mrun.end_time or (mrun.last_metric_time and mrun.last_metric_time >= cutoff_ms):
                alive_count += 1
                if len(alive) < REPORT_LIST_LIMIT:
                    alive.append(entry)
            else:
                suspects.append(entry)
            seen += 1
            if seen % 500 == 0:
                task_run_progress(run)  # heartbeat while listing
        task_run_progress(run, done=0, total=max(1, len(suspects)))
    counts = {"stuck": len(suspects), "reaped": 0, "changed": 0, "failed": 0, "alive": alive_count}
    reason = f"RUNNING for more than {hours:g} h with no metric logged in that time"
    reaped: list[dict[str, Any]] = []
    for index, entry in enumerate(suspects, start=1):
        if not dry_run:
            outcome = _reap_one(entry, cutoff_ms, reason, names, teams, run)
            counts[outcome] += 1
            entry["outcome"] = outcome
        else:
            entry["outcome"] = "would reap"
        if len(reaped) < REPORT_LIST_LIMIT:
            reaped.append(entry)
        task_run_progress(run, done=index, total=len(suspects), counts=counts)
    task_run_finish(
        run,
        state=TaskState.SUCCEEDED,
        counts=counts,
        report={"dry_run": dry_run, "threshold_hours": hours, "reason": reason, "runs": reaped, "left_alone": alive},
    )


def _reap_one(
    entry: dict[str, Any], cutoff_ms: int, reason: str, names: dict[str, str], teams: list[Team], run: TaskRun
) -> str:
    try:
        fresh = mlf.get_run(entry["run_id"])
    except mlf.MlflowNotFound:
        return "changed"
    if fresh.status != "RUNNING" or fresh.end_time or (fresh.last_metric_time or 0) >= cutoff_ms:
        return "changed"  # it finished or logged something since we listed it
    now_iso = timezone.now().isoformat(timespec="seconds")
    try:
        mlf.set_terminated(fresh.run_id, status="FAILED")
        mlf.log_batch(fresh.run_id, tags={REAPED_AT_TAG: now_iso, REAP_REASON_TAG: reason})
    except mlf.MlflowUnavailable:
        raise
    except mlf.MlflowError as exc:
        entry["error"] = str(exc)[:200]
        return "failed"
    team = team_for_experiment_name(names.get(fresh.experiment_id, ""), teams)
    audit_record(
        actor=_actor_for(run),
        action="run.reap",
        target_kind="run",
        target_id=fresh.run_id,
        team=team.name if team else "",
        before={"status": "RUNNING"},
        after={"status": "FAILED", REAPED_AT_TAG: now_iso},
        reason=reason,
    )
    return "reaped"


# --- Capacity ----------------------------------------------------------------------------------
def capacity_check_start(*, actor: Any) -> TaskRun:
    with transaction.atomic():
        run = task_run_create(kind=TaskKind.CAPACITY, parameters={}, actor=actor)
        audit_record(
            actor=actor,
            action="capacity.check",
            target_kind="task",
            target_id=run.pk,
            reason="measure artifact store and database size",
        )
        _enqueue(run)
    return run


def capacity_run(run: TaskRun) -> None:
    """Handler: size of every experiment's artifact location (local / S3 / unknown), per team and per
    store, and of the tracking database; samples stored; thresholds checked."""
    experiments = list(mlf.iter_experiments())
    teams = all_teams()
    task_run_progress(run, done=0, total=len(experiments) + 1)
    now = timezone.now()
    samples: list[CapacitySample] = []
    per_team: dict[str, list[int]] = {}
    per_store: dict[str, list[int]] = {}
    counts = {"experiments": len(experiments), "unknown": 0, "errors": 0}
    errors: list[str] = []

    def measure(experiment: mlf.Experiment) -> tuple[mlf.Experiment, storage.Location, Any, Any, str]:
        location = storage.resolve(experiment.artifact_location)
        try:
            size, objects = storage.location_size(location)
            return experiment, location, size, objects, ""
        except Exception as exc:  # one unreadable location must not hide the others
            return experiment, location, None, None, str(exc)[:300]

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="capacity") as pool:
        for index, (experiment, location, size, objects, error) in enumerate(pool.map(measure, experiments), 1):
            team = team_for_experiment_name(experiment.name, teams)
            team_key = team.name if team else ""
            if error:
                counts["errors"] += 1
                errors.append(f"{experiment.name}: {error}")
            elif size is None:
                counts["unknown"] += 1
            for bucket, key in ((per_team, team_key), (per_store, location.store)):
                acc = bucket.setdefault(key, [0, 0, 0, 0])  # bytes, objects, unknown, failed
                acc[0] += size or 0
                acc[1] += objects or 0
                acc[2] += 1 if size is None else 0
                acc[3] += 1 if error else 0
            samples.append(
                CapacitySample(
                    task_run=run,
                    measured_at=now,
                    scope="experiment",
                    key=experiment.experiment_id,
                    label=experiment.name[:512],
                    team=team_key,
                    store=location.store[:512],
                    size_bytes=size,
                    object_count=objects,
                    detail={
                        "location": experiment.artifact_location,
                        "kind": location.kind,
                        "note": error or location.note,
                    },
                )
            )
            if index % 50 == 0:
                task_run_progress(run, done=index)
    # A group with a location that failed this time (S3 down) has no size: its growth chart skips the point
    # instead of dropping towards 0. What was measured stays in the detail. Locations of a kind that is never
    # measurable (unknown) only leave the sum incomplete, as the page says.
    for key, (size, objects, unknown, failed) in per_team.items():
        samples.append(
            CapacitySample(
                task_run=run,
                measured_at=now,
                scope="team",
                key=key or "(no team)",
                label=key or "(no team)",
                team=key,
                size_bytes=None if failed else size,
                object_count=None if failed else objects,
                detail={"unknown_experiments": unknown, "failed_experiments": failed, "measured_bytes": size},
            )
        )
    for key, (size, objects, unknown, failed) in per_store.items():
        samples.append(
            CapacitySample(
                task_run=run,
                measured_at=now,
                scope="store",
                key=key[:512],
                label=key[:512],
                store=key[:512],
                size_bytes=None if failed else size,
                object_count=None if failed else objects,
                detail={"unknown_experiments": unknown, "failed_experiments": failed, "measured_bytes": size},
            )
        )
    database = capacity_probe.database_size(settings.MLFLOW_BACKEND_STORE_URI)
    if database.get("error"):
        errors.append(f"database: {database['error']}")
    artifact_total = sum(v[0] for v in per_store.values())
    samples.append(
        CapacitySample(
            task_run=run,
            measured_at=now,
            scope="database",
            key="tracking-db",
            label=database.get("label", ""),
            size_bytes=database.get("bytes"),
            detail=database,
        )
    )
    levels = capacity_probe.levels(artifact_total, database.get("bytes"))
    samples.append(
        CapacitySample(
            task_run=run,
            measured_at=now,
            scope="total",
            key="all",
            label="all stores",
            size_bytes=artifact_total,
            detail={"database_bytes": database.get("bytes"), **levels, "unknown_experiments": counts["unknown"]},
        )
    )
    with transaction.atomic():
        CapacitySample.objects.bulk_create(samples, batch_size=1000)
        if levels["level"] != "ok":
            _capacity_alert(run, levels, artifact_total, database.get("bytes"))
        counts.update({"artifact_bytes": artifact_total, "database_bytes": database.get("bytes")})
        task_run_finish(
            run,
            state=TaskState.SUCCEEDED,
            counts=counts,
            report={
                "level": levels["level"],
                "messages": levels["messages"],
                "database": database,
                "teams": {k or "(no team)": v[0] for k, v in per_team.items()},
                "stores": {k: v[0] for k, v in per_store.items()},
            },
            errors=errors[:50],
        )


def _capacity_alert(run: TaskRun, levels: dict[str, Any], artifact_bytes: int, database_bytes: int | None) -> None:
    text = "; ".join(levels["messages"])
    audit_record(
        actor=_actor_for(run),
        action="capacity.alert",
        target_kind="task",
        target_id=run.pk,
        after={"level": levels["level"], "artifact_bytes": artifact_bytes, "database_bytes": database_bytes},
        reason=text,
        outcome="ok",
    )
    notification_send(
        subject=f"[mlopsadmin] capacity {levels['level']}: {text[:120]}",
        text=f"The capacity check #{run.pk} found: {text}.",
    )


HANDLERS: dict[str, Callable[[TaskRun], None]] = {
    TaskKind.CLEANUP_PLAN: cleanup_plan_build,
    TaskKind.CLEANUP_EXECUTE: cleanup_plan_run,
    TaskKind.REAPER: reaper_run,
    TaskKind.CAPACITY: capacity_run,
}


def scheduled_start(*, kind: str, schedule_key: str) -> TaskRun | None:
    """What a beat entry starts; a task of the kind already active is not an error for a schedule."""
    actor = f"system:schedule.{schedule_key}"
    try:
        if kind == TaskKind.REAPER:
            return reaper_start(actor=actor, dry_run=False)
        return capacity_check_start(actor=actor)
    except Conflict as exc:
        logger.info("scheduled %s not started: %s", kind, exc)
        return None
