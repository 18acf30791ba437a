"""Claims of a cleanup plan's items, and how a claim a lost worker left unrecorded is settled.

An item moves PENDING → CLAIMED (a task run holds it; nothing sent to MLflow yet) → DELETING (the delete is
about to be sent) → DELETED / SKIPPED / FAILED (recorded: the outcome and, for a deletion, its one
`run.delete` audit event, in one transaction). A worker that dies leaves an item CLAIMED or DELETING. Whoever
takes the plan up again (a resume, a redelivered message, a Celery retry) takes such items over: MLflow is read
back, and a DELETING item whose run MLflow shows deleted is recorded now (`item_recover`: attributed to the actor
of the task run that sent the delete, saying it was recovered); any other is executed normally. Every settling
write is conditional on the item being unsettled, so nothing is recorded twice even if two workers meet.

Small functions, so a bulk execute loop can use them per batch (claim many, mark sending, delete, settle).
The principle is the product's: after a write whose answer was lost, read MLflow back before recording."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from maintenance.models import CleanupPlan, ItemOutcome, PlanItem, TaskRun
from maintenance.task_runs import actor_for, item_claim, task_run_hold
from mlopsadmin.audit.services import audit_record
from mlopsadmin.lib import mlflow_client as mlf

UNSETTLED = (ItemOutcome.CLAIMED, ItemOutcome.DELETING)  # held by a task run, outcome not recorded
OPEN = (ItemOutcome.PENDING, *UNSETTLED)  # still to be done by an execute (or a resume)
RECOVERED_NOTE = "recovered on resume: MLflow shows the run deleted; the worker was lost before recording it"


def item_take(item_id: int, run: TaskRun) -> PlanItem | None:
    """Claim a pending item for `run` (one conditional update), or take over one an earlier worker left
    claimed or deleting (who sent its delete stays recorded). None: settled already, nothing to do."""
    item: PlanItem | None = item_claim(
        PlanItem.objects.select_related("claimed_by"),
        item_id,
        pending=ItemOutcome.PENDING,
        claimed=ItemOutcome.CLAIMED,
        unsettled=UNSETTLED,
        claimed_by=run,
    )
    return item


def item_sending(item: PlanItem, run: TaskRun) -> bool:
    """Mark the item DELETING by `run` right before its delete is sent to MLflow: from here on, MLflow (not
    this record) says whether the run was deleted, and a lost worker's item is settled by reading it back.
    False: someone else settled the item meanwhile (send nothing). Raises TaskLost when `run`'s claim was
    taken over (the worker was swept while paused: what it read is stale, it must send nothing)."""
    with transaction.atomic():
        task_run_hold(run)
        marked = PlanItem.objects.filter(pk=item.pk, outcome__in=UNSETTLED).update(
            outcome=ItemOutcome.DELETING, claimed_by=run
        )
    if marked:
        item.outcome, item.claimed_by = ItemOutcome.DELETING, run
    return bool(marked)


def item_delete_was_sent(item: PlanItem, fresh: mlf.Run) -> bool:
    """True when the item's delete was sent by a worker that did not record it, and MLflow shows the run
    deleted: the deletion happened and only its record is missing (`item_recover` records it)."""
    return item.outcome == ItemOutcome.DELETING and fresh.lifecycle_stage == "deleted"


def item_settle(item: PlanItem, outcome: str, reason: str, *, run: TaskRun, event: dict[str, Any] | None = None) -> str:
    """Record the item's final outcome — and `event`, its audit event (audit_record's keywords), in the same
    transaction — if the item is still unsettled and `run`'s claim still holds. Returns the outcome, or ""
    when someone else recorded it. Raises TaskLost when the claim was taken over: the worker that took it
    over settles the item from what MLflow shows (a stale "already deleted" must not hide a deletion)."""
    with transaction.atomic():
        task_run_hold(run)
        updated = PlanItem.objects.filter(Q(pk=item.pk) & Q(outcome__in=UNSETTLED)).update(
            outcome=outcome, outcome_reason=reason[:256], executed_at=timezone.now()
        )
        if not updated:
            return ""
        if event is not None:
            audit_record(**event)
    item.outcome = outcome
    return outcome


def deletion_event(item: PlanItem, plan: CleanupPlan, *, status: str, actor: Any, note: str = "") -> dict[str, Any]:
    """The `run.delete` audit event of one item (audit_record's keywords); `status`: the run's status
    before the delete; `note` is added to the reason (e.g. that it was recovered)."""
    reason = f"cleanup plan #{plan.pk}: {item.reason}" + (f"; {note}" if note else "")
    return {
        "actor": actor,
        "action": "run.delete",
        "target_kind": "run",
        "target_id": item.run_id,
        "team": item.team,
        "before": {"lifecycle_stage": "active", "status": status, "experiment_id": item.experiment_id},
        "after": {"lifecycle_stage": "deleted"},
        "reason": reason,
    }


def item_recover(item: PlanItem, fresh: mlf.Run, plan: CleanupPlan, run: TaskRun) -> str:
    """Record the deletion a lost worker sent but never recorded (see `item_delete_was_sent`), attributed to
    the actor of the task run that sent it (`run`'s when unknown). Returns "deleted", or "" if recorded
    meanwhile by someone else."""
    actor = actor_for(item.claimed_by or run)
    event = deletion_event(item, plan, status=fresh.status, actor=actor, note=RECOVERED_NOTE)
    reason = f"deleted by plan #{plan.pk} ({RECOVERED_NOTE})"
    return item_settle(item, ItemOutcome.DELETED, reason, run=run, event=event)
