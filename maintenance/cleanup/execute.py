"""Cleanup, step 2: execute a reviewed plan. A worker deletes exactly the plan's candidates, re-checking
each at that moment (protection.py), a chunk at a time (execute_chunk.py), and optionally purges exactly
them (mlf.purge_runs)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from maintenance.cleanup.claims import OPEN, Settlement, items_settle
from maintenance.cleanup.execute_chunk import execute_chunks
from maintenance.cleanup.protection import LiveProtection, protected_run_ids
from maintenance.models import CleanupPlan, ItemOutcome, PlanState, TaskKind, TaskRun, TaskState
from maintenance.reaper import readable_backend_store
from maintenance.task_runs import (
    REPORT_LIST_LIMIT,
    actor_for,
    task_run_create,
    task_run_enqueue,
    task_run_finish,
    task_run_progress,
)
from maintenance.work_items import write_sources
from mlopsadmin.audit.selectors import audit_targets
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from mlopsadmin.core.formatting import capped_lines
from mlopsadmin.lib import mlflow_client as mlf


def cleanup_plan_execute(*, actor: Any, plan_id: int, confirm: bool, purge: bool = False) -> TaskRun:
    """The operator confirms a reviewed plan; a worker deletes exactly its candidates."""
    if not confirm:
        raise InvalidInput("Confirm that you reviewed the plan before executing it.")
    plan = CleanupPlan.objects.filter(pk=plan_id).first() if 0 < plan_id < 2**63 else None
    if plan is None:
        raise NotFound(f"No cleanup plan #{plan_id}.")
    if plan.interrupted:
        raise Conflict(
            f"Plan #{plan.pk}'s execution was interrupted (its task stopped before the end): resume it instead."
        )
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
        task_run_enqueue(run)
    return run


def cleanup_plan_run(run: TaskRun) -> None:
    """Handler: delete exactly the plan's candidates, re-checking each at that moment. Each item is
    claimed with a conditional update, so retries and second workers never delete twice; items a lost
    worker left unsettled are settled from what MLflow shows (claims.py)."""
    plan = CleanupPlan.objects.get(pk=run.parameters["plan_id"])
    sources = write_sources()
    protected = LiveProtection()
    candidates = plan.items.filter(excluded=False)
    total = candidates.count()
    counts = {"deleted": 0, "skipped": 0, "failed": 0}
    for row in candidates.exclude(outcome__in=OPEN).values("outcome").annotate(n=Count("id")):
        counts[row["outcome"]] = row["n"]
    done = sum(counts.values())
    task_run_progress(run, done=done, total=total, counts=counts)
    ids = list(candidates.filter(outcome__in=OPEN).order_by("id").values_list("id", flat=True))
    size = max(1, int(settings.MAINTENANCE_BULK_CHUNK))

    def record(settlements: list[Settlement]) -> None:
        nonlocal done
        done += _record(settlements=settlements, run=run, counts=counts, done=done)

    execute_chunks(
        [ids[start : start + size] for start in range(0, len(ids), size)], plan, protected, run, sources, record
    )
    report: dict[str, Any] = {"plan_id": plan.pk}
    errors: list[str] = []
    if plan.purge and counts["deleted"]:
        report["purge"] = _purge(plan, errors, actor_for(run))
    with transaction.atomic():
        CleanupPlan.objects.filter(pk=plan.pk, state=PlanState.EXECUTING).update(state=PlanState.EXECUTED)
        skipped = list(
            plan.items.filter(excluded=False, outcome=ItemOutcome.SKIPPED).values("run_id", "outcome_reason")[
                :REPORT_LIST_LIMIT
            ]
        )
        report["skipped"] = skipped
        state = TaskState.SUCCEEDED if not counts["failed"] and not errors else TaskState.FAILED
        task_run_finish(run, state=state, counts=counts, report=report, errors=errors)


def _record(*, settlements: list[Settlement], run: TaskRun, counts: dict[str, int], done: int) -> int:
    """A chunk's outcomes, their audit events and the task's progress in one transaction; returns how many
    items were recorded."""
    with transaction.atomic():
        recorded = items_settle(settlements, run=run)
        for outcome, n in recorded.items():
            counts[outcome] += n
        added = sum(recorded.values())
        task_run_progress(run, done=done + added, counts=counts)
    return added


def _purge(plan: CleanupPlan, errors: list[str], actor: Any) -> dict[str, Any]:
    """Hard-delete exactly the runs this plan deleted (mlf.purge_runs: MLflow's store layer in-process,
    never `mlflow gc`, which also destroys every soft-deleted experiment). The store is re-counted after
    each chunk; anything else leaving it stops the purge and is reported. Bytes freed are measured. Each
    run the store no longer holds gets one `run.purge` audit event (an item of the cleanup's operation)."""
    deleted = plan.items.filter(excluded=False, outcome=ItemOutcome.DELETED)
    planned = list(deleted.values_list("run_id", flat=True))
    report: dict[str, Any] = {
        "runs_purged": 0,
        "hard_deleted": [],
        "artifact_bytes_freed": 0,
        "artifact_bytes_estimated": deleted.aggregate(total=Sum("estimated_bytes"))["total"] or 0,
    }
    try:
        backing = _backing_versions(planned)
        result = mlf.purge_runs(
            settings.MLFLOW_BACKEND_STORE_URI,
            [run_id for run_id in planned if run_id not in backing],
            artifacts_destination=settings.MLFLOW_ARTIFACTS_DESTINATION,
        )
    except mlf.MlflowError as exc:
        errors.append(f"purge failed: {exc}")
        return report
    kept = [
        f"run {run_id} not purged: it now backs a registered model version; kept soft-deleted" for run_id in backing
    ]
    errors.extend(capped_lines(kept, REPORT_LIST_LIMIT, "runs not purged"))
    _audit_purged(plan, result.hard_deleted, actor)
    already = [run_id for run_id, why in result.skipped.items() if why == "not found"]  # purged by an earlier try
    _audit_purged(plan, _without_purge_event(already), actor, note=FOUND_PURGED_NOTE)
    report["runs_purged"] = len(result.hard_deleted) + len(already)
    report["hard_deleted"] = result.hard_deleted[:REPORT_LIST_LIMIT]
    report["hard_deleted_total"] = len(result.hard_deleted)
    if len(result.hard_deleted) > REPORT_LIST_LIMIT:
        report["hard_deleted_note"] = (
            f"showing {REPORT_LIST_LIMIT} of {len(result.hard_deleted)} purged run ids; every purged run has its "
            f"run.purge audit event and its plan item"
        )
    report["artifact_bytes_freed"] = result.bytes_freed
    if result.unmeasured:
        report["unmeasured_runs"] = len(result.unmeasured)
    left = [f"run {run_id} not purged: {why}" for run_id, why in result.skipped.items() if why != "not found"]
    errors.extend(capped_lines(left, REPORT_LIST_LIMIT, "runs not purged"))
    if result.surprise:
        report["surprise"] = result.surprise
        errors.append(f"purge stopped: {result.surprise}")
    return report


def _backing_versions(run_ids: list[str]) -> list[str]:
    """Those of `run_ids` that back a registered model version now (protection.protected_run_ids, read just
    before the purge: a version may have been registered from a deleted run's artifacts since the execute
    deleted it); the purge never destroys what a version points to. Raises mlf.MlflowError."""
    try:
        protected = protected_run_ids(store_uri=readable_backend_store())
    except mlf.BackendStoreError:
        protected = protected_run_ids()
    return [run_id for run_id in run_ids if run_id in protected]


FOUND_PURGED_NOTE = (
    "found hard-deleted when the purge was taken up again (an earlier try of this purge was stopped before "
    "recording it); recorded now"
)


def _without_purge_event(run_ids: list[str]) -> list[str]:
    """Those of `run_ids` (runs of a plan the store no longer holds) that have no `run.purge` event yet: an
    earlier try hard-deleted them and was stopped (worker lost) before recording. Usually empty: no query."""
    found: set[str] = set()
    for start in range(0, len(run_ids), 1000):
        part = run_ids[start : start + 1000]
        found.update(audit_targets("run.purge", "run", part))
    return [run_id for run_id in run_ids if run_id not in found]


def _audit_purged(plan: CleanupPlan, run_ids: list[str], actor: Any, *, note: str = "") -> None:
    """One `run.purge` event per run the purge removed (what the store reported after each chunk); `note` is
    added to the reason (a run found purged by an earlier, stopped try)."""
    if not run_ids:
        return
    items = plan.items.filter(run_id__in=run_ids).values_list("run_id", "team", "experiment_id")
    for run_id, team, experiment_id in items.iterator(chunk_size=1000):
        audit_record(
            actor=actor,
            action="run.purge",
            target_kind="run",
            target_id=run_id,
            team=team,
            before={"lifecycle_stage": "deleted", "experiment_id": experiment_id},
            after={"lifecycle_stage": "purged"},
            reason=f"cleanup plan #{plan.pk}: hard-deleted from the tracking store, artifacts removed"
            + (f"; {note}" if note else ""),
        )


def cleanup_failed(run: TaskRun) -> None:
    """A cleanup task run failed: its plan goes back to a state the operator can act on."""
    plan_id = run.parameters.get("plan_id")
    if not plan_id:
        return
    if run.kind == TaskKind.CLEANUP_PLAN:
        CleanupPlan.objects.filter(pk=plan_id, state=PlanState.PLANNING).update(state=PlanState.FAILED)
    elif run.kind == TaskKind.CLEANUP_EXECUTE:
        # what was deleted stays recorded per item; the rest of the plan can be executed again
        CleanupPlan.objects.filter(pk=plan_id, state=PlanState.EXECUTING).update(state=PlanState.READY)
