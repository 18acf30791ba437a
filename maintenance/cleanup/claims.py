"""Claims of a cleanup plan's items, and how a claim a lost worker left unrecorded is settled.

An item moves PENDING → CLAIMED (a task run holds it; nothing sent to MLflow yet) → DELETING (the delete is
about to be sent) → DELETED / SKIPPED / FAILED (recorded: the outcome and, for a deletion, its one
`run.delete` audit event, in one transaction). A worker that dies leaves an item CLAIMED or DELETING. Whoever
takes the plan up again (a resume, a redelivered message, a Celery retry) takes such items over: MLflow is read
back, and a DELETING item whose run MLflow shows deleted is recorded now (attributed to the actor of the task run
that sent the delete, saying it was recovered: execute_chunk.py); any other is executed normally. Every settling
write is conditional on the item being unsettled, so nothing is recorded twice even if two workers meet.

Small functions, so a bulk execute loop can use them per batch (claim many, mark sending, delete, settle).
The principle is the product's: after a write whose answer was lost, read MLflow back before recording."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from maintenance.models import CleanupPlan, ItemOutcome, PlanItem, TaskRun
from maintenance.task_runs import task_run_hold
from maintenance.work_items import items_claim
from mlopsadmin.audit.services import audit_record_many
from mlopsadmin.lib import mlflow_client as mlf

UNSETTLED = (ItemOutcome.CLAIMED, ItemOutcome.DELETING)  # held by a task run, outcome not recorded
OPEN = (ItemOutcome.PENDING, *UNSETTLED)  # still to be done by an execute (or a resume)
RECOVERED_NOTE = "recovered on resume: MLflow shows the run deleted; the worker was lost before recording it"


def item_take(item_id: int, run: TaskRun) -> PlanItem | None:
    """Claim a pending item for `run` (one conditional update), or take over one an earlier worker left
    claimed or deleting (who sent its delete stays recorded). None: settled already, nothing to do."""
    taken = items_take([item_id], run)
    return taken[0] if taken else None


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
    deleted: the deletion happened and only its record is missing (execute_chunk records it, recovered)."""
    return item.outcome == ItemOutcome.DELETING and fresh.lifecycle_stage == "deleted"


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


# --- a chunk at a time (the bulk execute loop: claim many, mark sending, delete, settle) ---------------
def items_take(item_ids: list[int], run: TaskRun) -> list[PlanItem]:
    """item_take for a chunk: the items of `item_ids` now held by `run` (claimed with one update) or taken
    over from a lost worker, in id order; settled ones are left out."""
    taken: list[PlanItem] = items_claim(
        PlanItem.objects.select_related("claimed_by"),
        item_ids,
        pending=ItemOutcome.PENDING,
        claimed=ItemOutcome.CLAIMED,
        unsettled=UNSETTLED,
        claimed_by=run,
    )
    return taken


def items_sending(items: list[PlanItem], run: TaskRun) -> list[PlanItem]:
    """item_sending for a chunk, in one transaction under `run`'s claim: the items marked DELETING (those
    nobody settled meanwhile), whose deletes may now be sent. Raises TaskLost when the claim was taken over."""
    if not items:
        return []
    with transaction.atomic():
        task_run_hold(run)
        ids = list(
            PlanItem.objects.select_for_update()
            .filter(pk__in=[item.pk for item in items], outcome__in=UNSETTLED)
            .values_list("pk", flat=True)
        )
        PlanItem.objects.filter(pk__in=ids).update(outcome=ItemOutcome.DELETING, claimed_by=run)
    marked = [item for item in items if item.pk in set(ids)]
    for item in marked:
        item.outcome, item.claimed_by = ItemOutcome.DELETING, run
    return marked


Settlement = tuple[PlanItem, str, str, "dict[str, Any] | None"]  # item, outcome, reason, its audit event


def items_settle(settlements: list[Settlement], *, run: TaskRun) -> dict[str, int]:
    """Record a chunk's outcomes in ONE transaction under `run`'s claim: each item still unsettled gets its
    outcome and reason, and the audit events of those settled are appended in item order (one per item,
    each its own link of the chain). Returns outcome → how many were recorded here (others were recorded
    by someone else meanwhile). Raises TaskLost when the claim was taken over (nothing is recorded)."""
    recorded: dict[str, int] = {}
    if not settlements:
        return recorded
    ordered = sorted(settlements, key=lambda settlement: settlement[0].pk)
    with transaction.atomic():
        task_run_hold(run)
        open_ids = set(
            PlanItem.objects.select_for_update()
            .filter(pk__in=[item.pk for item, *_ in ordered], outcome__in=UNSETTLED)
            .values_list("pk", flat=True)
        )
        groups: dict[tuple[str, str], list[int]] = {}
        events = []
        for item, outcome, reason, event in ordered:
            if item.pk not in open_ids:
                continue
            groups.setdefault((outcome, reason[:256]), []).append(item.pk)
            item.outcome = outcome
            recorded[outcome] = recorded.get(outcome, 0) + 1
            if event is not None:
                events.append(event)
        now = timezone.now()
        for (outcome, reason), ids in groups.items():  # one update per distinct outcome and reason
            PlanItem.objects.filter(pk__in=ids).update(outcome=outcome, outcome_reason=reason, executed_at=now)
        audit_record_many(events)
    return recorded
