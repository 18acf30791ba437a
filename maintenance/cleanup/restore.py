"""Cleanup, undo: restore the runs an executed plan soft-deleted (issue 19). MLflow's `restore_run` brings a
soft-deleted run back until it is purged; a purged run is gone and is refused with that reason.

Per run (`cleanup_restore_run`, in the request) or every run the plan deleted (`cleanup_restore_all`, a
TaskRun of kind cleanup_restore for a worker). Each restored run is one `run.restore` audit event; after a
failed write MLflow is read back before anything is recorded. The plan item keeps the outcome
(`restore_outcome`, `restored_at`), which is also the catalog's mark: its next sync rescans the
experiments of runs restored since the last one (catalog.sync). Who may run a cleanup may restore
(policy: cleanup.restore)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from maintenance.models import CleanupPlan, ItemOutcome, PlanItem, PlanState, TaskKind, TaskRun, TaskState
from maintenance.task_runs import (
    REPORT_LIST_LIMIT,
    actor_for,
    task_run_create,
    task_run_enqueue,
    task_run_finish,
    task_run_progress,
)
from mlopsadmin import policy
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import Conflict, NotFound, RuleViolation
from mlopsadmin.lib import mlflow_client as mlf

RESTORED, REFUSED, SKIPPED, FAILED = "restored", "refused", "skipped", "failed"
MAX_ID = 2**63 - 1


class Purged(RuleViolation):
    """The run was purged (hard-deleted): MLflow cannot restore it."""


def purged_reason(run_id: str) -> str:
    return f"Run {run_id} was purged (permanently deleted) after the cleanup: MLflow cannot restore it."


def restorable(plan: CleanupPlan) -> QuerySet[PlanItem]:
    """Items the plan deleted and that are not back yet (never tried, or a failed try)."""
    return plan.items.filter(excluded=False, outcome=ItemOutcome.DELETED).filter(
        Q(restore_outcome="") | Q(restore_outcome=FAILED)
    )


def _plan(plan_id: int) -> CleanupPlan:
    plan = CleanupPlan.objects.filter(pk=plan_id).first() if 0 < plan_id <= MAX_ID else None
    if plan is None:
        raise NotFound(f"No cleanup plan #{plan_id}.")
    if plan.state in (PlanState.PLANNING, PlanState.EXECUTING):
        raise Conflict(f"Plan #{plan.pk} is {plan.get_state_display().lower()}: restore when it has finished.")
    return plan


def cleanup_restore_run(*, actor: Any, plan_id: int, run_id: str) -> PlanItem:
    """Restore one run plan `plan_id` deleted, now. Returns the item with its restore outcome (restored,
    or skipped when the run was already active again). Raises PermissionDenied, NotFound (no such plan, or
    the run is not one the plan deleted), Conflict (already restored, plan still running), Purged (a
    RuleViolation), MlflowError when MLflow cannot be read."""
    policy.require_actor(actor, policy.Action.CLEANUP_RESTORE)
    plan = _plan(plan_id)
    item = plan.items.filter(excluded=False, outcome=ItemOutcome.DELETED, run_id=str(run_id)[:64]).first()
    if item is None:
        raise NotFound(f"Run {str(run_id)[:64]!r} was not deleted by cleanup plan #{plan.pk}.")
    if item.restore_outcome in (RESTORED, SKIPPED):
        raise Conflict(f"Run {item.run_id} was already restored ({item.restore_reason}).")
    outcome, why = restore_item(item, plan, actor)
    if outcome == REFUSED:
        raise Purged(why)
    if outcome == FAILED:
        raise RuleViolation(f"MLflow did not restore run {item.run_id}: {why}")
    item.refresh_from_db()
    return item


def cleanup_restore_all(*, actor: Any, plan_id: int) -> TaskRun:
    """Queue the restore of every run plan `plan_id` deleted that is not back yet (a cleanup_restore
    TaskRun; one `cleanup.restore` audit event now, one `run.restore` per run as the worker restores it).
    Raises PermissionDenied, NotFound, Conflict (nothing left, a restore already running), Purged when
    the plan purged every run it deleted."""
    policy.require_actor(actor, policy.Action.CLEANUP_RESTORE)
    plan = _plan(plan_id)
    left = restorable(plan).count()
    if not left:
        raise Conflict(f"Nothing left to restore in plan #{plan.pk}: every run it deleted was restored or refused.")
    deleted = plan.items.filter(excluded=False, outcome=ItemOutcome.DELETED).count()
    if deleted and _purged_by_plan(plan) >= deleted:
        raise Purged(
            f"All {deleted} runs this plan deleted were purged (permanently deleted): MLflow cannot restore them."
        )
    with transaction.atomic():
        run = task_run_create(kind=TaskKind.CLEANUP_RESTORE, parameters={"plan_id": plan.pk}, actor=actor)
        audit_record(
            actor=actor,
            action="cleanup.restore",
            target_kind="task",
            target_id=run.pk,
            team=plan.scope_value if plan.scope == "team" else "",
            before={"plan_id": plan.pk, "deleted": left},
            after={"plan_id": plan.pk},
            reason=f"restore the runs cleanup plan #{plan.pk} deleted ({plan.scope_label})",
        )
        task_run_enqueue(run)
    return run


def _purged_by_plan(plan: CleanupPlan) -> int:
    """How many runs the plan's own purge hard-deleted (its execute task's report), 0 without a purge."""
    if not plan.purge or plan.execute_task is None:
        return 0
    purge = (plan.execute_task.report or {}).get("purge") or {}
    return int(purge.get("runs_purged") or 0)


def cleanup_restore_run_task(run: TaskRun) -> None:
    """Handler (kind cleanup_restore): restore each run the plan deleted that is not back yet."""
    plan = CleanupPlan.objects.get(pk=run.parameters["plan_id"])
    ids = list(restorable(plan).order_by("id").values_list("id", flat=True))
    counts = {RESTORED: 0, REFUSED: 0, SKIPPED: 0, FAILED: 0}
    task_run_progress(run, done=0, total=len(ids), counts=counts)
    report: list[dict[str, str]] = []
    actor = actor_for(run)
    for index, item_id in enumerate(ids, start=1):
        item = PlanItem.objects.get(pk=item_id)
        if item.restore_outcome in (RESTORED, SKIPPED, REFUSED):
            continue  # done by a per-run restore meanwhile
        outcome, why = restore_item(item, plan, actor)
        counts[outcome] += 1
        if len(report) < REPORT_LIST_LIMIT:
            report.append({"run_id": item.run_id, "run_name": item.run_name, "outcome": outcome, "reason": why})
        task_run_progress(run, done=index, counts=counts)
    task_run_finish(
        run,
        state=TaskState.SUCCEEDED if not counts[FAILED] else TaskState.FAILED,
        counts=counts,
        report={"plan_id": plan.pk, "runs": report},
        errors=[f"{counts[FAILED]} runs could not be restored (see the list)"] if counts[FAILED] else None,
    )


def restore_item(item: PlanItem, plan: CleanupPlan, actor: Any) -> tuple[str, str]:
    """Restore one deleted run and record the outcome on its item: (restored | refused | skipped | failed,
    why). MlflowUnavailable is raised (nothing recorded) when MLflow cannot be read at all."""
    try:
        before = mlf.get_run(item.run_id)
    except mlf.MlflowNotFound:
        return _record(item, REFUSED, purged_reason(item.run_id))
    if before.lifecycle_stage == "active":
        return _record(item, SKIPPED, "already active (restored outside mlopsadmin)")
    try:
        mlf.restore_run(item.run_id)
    except mlf.MlflowError as exc:
        after = mlf.get_run(item.run_id)  # read back: a write whose answer was lost may have been applied
        if after.lifecycle_stage != "active":
            return _record(item, FAILED, str(exc)[:200])
    with transaction.atomic():
        outcome = _record(item, RESTORED, f"restored from cleanup plan #{plan.pk}", by=actor)
        audit_record(
            actor=actor,
            action="run.restore",
            target_kind="run",
            target_id=item.run_id,
            team=item.team,
            before={"lifecycle_stage": "deleted", "experiment_id": item.experiment_id},
            after={"lifecycle_stage": "active", "experiment_id": item.experiment_id},
            reason=f"restore of a run cleanup plan #{plan.pk} deleted ({item.reason})",
        )
    return outcome


def _record(item: PlanItem, outcome: str, why: str, *, by: Any = None) -> tuple[str, str]:
    name = by if isinstance(by, str) else (by.get_username() if by is not None else "")
    PlanItem.objects.filter(pk=item.pk).update(
        restore_outcome=outcome,
        restore_reason=why[:256],
        restored_at=timezone.now() if outcome == RESTORED else None,
        restored_by=name[:150],
    )
    return outcome, why
