"""Cleanup, resuming an interrupted execute: the plan's execute task goes back to the queue and a worker
continues where the lost one stopped. Deletions the lost worker sent but never recorded are recorded from
what MLflow shows (claims.py); every other open item is re-checked and executed normally."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from maintenance.models import CleanupPlan, TaskRun
from maintenance.task_runs import task_run_enqueue, task_run_requeue, task_runs_sweep_stale, task_start_event_id
from mlopsadmin import policy
from mlopsadmin.audit.operations import audit_operation
from mlopsadmin.audit.services import actor_label, audit_record
from mlopsadmin.core.errors import Conflict, InvalidInput, NotFound
from mlopsadmin.policy import Action


def cleanup_plan_resume(*, actor: Any, plan_id: int, confirm: bool) -> TaskRun:
    """Resume the interrupted execution of plan `plan_id` (its worker was lost, or its task never started):
    the same execute task run is queued again, with one `cleanup.resume` audit event by `actor`. Deletions
    stay attributed to the execute's actor. Needs `maintenance.run` (policy.py).

    Raises InvalidInput (not confirmed), NotFound, Conflict (the plan is not interrupted — e.g. a worker is
    still on it — or another cleanup execute is active), QueueUnavailable (broker down: nothing resumed)."""
    policy.require_actor(actor, Action.MAINTENANCE_RUN)
    if not confirm:
        raise InvalidInput("Confirm that the rest of the plan may be deleted before resuming it.")
    plan = CleanupPlan.objects.filter(pk=plan_id).first() if 0 < plan_id < 2**63 else None
    if plan is None:
        raise NotFound(f"No cleanup plan #{plan_id}.")
    task_runs_sweep_stale()  # a worker that just died is recognised now, not at the next beat
    plan.refresh_from_db()
    if not plan.interrupted or plan.execute_task_id is None:
        raise Conflict(
            f"Plan #{plan.pk} is {plan.get_state_display().lower()}: only an interrupted execution can be resumed."
        )
    with transaction.atomic():
        note = f"resumed by {actor_label(actor)} at {timezone.now():%Y-%m-%d %H:%M:%S} UTC"
        run = task_run_requeue(task_run_id=plan.execute_task_id, note=note)
        with audit_operation(head_id=task_start_event_id(run)):  # an item of the cleanup's operation
            audit_record(
                actor=actor,
                action="cleanup.resume",
                target_kind="task",
                target_id=run.pk,
                team=plan.scope_value if plan.scope == "team" else "",
                before={"plan_id": plan.pk, "state": "interrupted", "done": run.progress_done},
                after={"plan_id": plan.pk, "state": run.state},
                reason=f"resume interrupted execution of plan #{plan.pk} ({plan.scope_label})",
            )
        task_run_enqueue(run)
    return run
