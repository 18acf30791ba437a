"""Reap what a reviewed dry run listed ("reap these now", issue 19): exactly the runs the dry run found
stuck (its ReapItem rows, all of them, not only the report's first REPORT_LIST_LIMIT), each re-checked by
the reaper's own rule at that moment (maintenance.reaper.judge: the rule lives there alone); a run that
came alive since is skipped and the report says so. Runs as a reaper TaskRun (one reaper at a time, the
scheduled one included); each item is claimed with a conditional update, so a retried task never
reaps twice; each reaped run is one `run.reap` audit event (maintenance.reap_listed_chunk records it)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from maintenance import reaper
from maintenance.models import ReapItem, ReapOutcome, TaskKind, TaskRun, TaskState
from maintenance.reap_listed_chunk import OPEN, reap_items_chunk
from maintenance.task_runs import (
    REPORT_LIST_LIMIT,
    task_run_create,
    task_run_enqueue,
    task_run_finish,
    task_run_progress,
)
from maintenance.work_items import write_sources
from mlopsadmin import policy
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import Conflict, NotFound, RuleViolation
from mlopsadmin.core.selectors import all_teams

MAX_ID = 2**63 - 1


def listed_dry_run(task_run_id: int) -> TaskRun:
    """The reaper dry run `task_run_id`, finished; NotFound / RuleViolation / Conflict otherwise."""
    run = TaskRun.objects.filter(pk=task_run_id).first() if 0 < task_run_id <= MAX_ID else None
    if run is None:
        raise NotFound(f"No task run #{task_run_id}.")
    if run.kind != TaskKind.REAPER or not run.parameters.get("dry_run") or run.parameters.get("listed_from"):
        raise RuleViolation(f"Task #{run.pk} is not a reaper dry run: only a dry run's list can be reaped.")
    if run.state != TaskState.SUCCEEDED:
        raise Conflict(f"Dry run #{run.pk} has not finished ({run.state}): wait for its list.")
    return run


def reap_state(dry_run: TaskRun) -> tuple[int, int | None]:
    """(runs of the dry run's list still to reap, the task that reaped them when none is left)."""
    pending = ReapItem.objects.filter(dry_run=dry_run, outcome__in=OPEN)
    done_by = (
        ReapItem.objects.filter(dry_run=dry_run, reap_task__isnull=False).values_list("reap_task_id", flat=True).first()
    )
    return pending.count(), done_by


def reap_offer(run: TaskRun, *, may_reap: bool) -> dict[str, Any]:
    """What a task page offers: for a finished reaper dry run, `reap_offer` (runs of its list still to
    reap; 0 when the viewer may not reap or nothing is left: no button) and `reaped_by` (the task that
    reaped its list)."""
    if run.kind != TaskKind.REAPER or not run.parameters.get("dry_run") or run.state != TaskState.SUCCEEDED:
        return {"reap_offer": 0, "reaped_by": None}
    pending, done_by = reap_state(run)
    return {"reap_offer": pending if may_reap else 0, "reaped_by": done_by}


def reaper_reap_listed(*, actor: Any, dry_run_id: int) -> TaskRun:
    """Queue the reap of exactly the runs dry run `dry_run_id` listed. Who may run the reaper may do it
    (policy: maintenance.run). One `reaper.reap_listed` audit event. Raises PermissionDenied, NotFound,
    RuleViolation (not a dry run), Conflict (not finished, nothing left, another reaper active)."""
    policy.require_actor(actor, policy.Action.MAINTENANCE_RUN)
    dry_run = listed_dry_run(dry_run_id)
    pending, done_by = reap_state(dry_run)
    if not pending:
        if done_by:
            raise Conflict(f"Dry run #{dry_run.pk}'s list was already reaped by task #{done_by}.")
        raise Conflict(f"Dry run #{dry_run.pk} listed no stuck run: nothing to reap.")
    parameters = {
        "dry_run": False,
        "listed_from": dry_run.pk,
        "threshold_hours": dry_run.parameters.get("threshold_hours"),
        "experiment_id": dry_run.parameters.get("experiment_id", ""),
    }
    with transaction.atomic():
        run = task_run_create(kind=TaskKind.REAPER, parameters=parameters, actor=actor)
        audit_record(
            actor=actor,
            action="reaper.reap_listed",
            target_kind="task",
            target_id=run.pk,
            after={"listed_from": dry_run.pk, "runs": pending},
            reason=f"reap the {pending} runs dry run #{dry_run.pk} listed",
        )
        task_run_enqueue(run)
    return run


def reaper_handler(run: TaskRun) -> None:
    """The worker's handler of reaper TaskRuns: a reap of a dry run's list, or the reaper itself."""
    if run.parameters.get("listed_from"):
        reap_listed_run(run)
    else:
        reaper.reaper_run(run)


def reap_listed_run(run: TaskRun) -> None:
    """Handler: claim, re-check and reap each listed run; counts listed / reaped / skipped / failed."""
    dry_run = TaskRun.objects.get(pk=run.parameters["listed_from"])
    hours = float(run.parameters.get("threshold_hours") or settings.MAINTENANCE_REAPER_THRESHOLD_HOURS)
    cutoff_ms = reaper.stuck_cutoff_ms(hours)
    reason = reaper.reap_reason(hours)
    items = ReapItem.objects.filter(dry_run=dry_run)
    counts = {"listed": items.count(), "reaped": 0, "skipped": 0, "failed": 0}
    for outcome in (ReapOutcome.REAPED, ReapOutcome.SKIPPED, ReapOutcome.FAILED):
        counts[outcome] = items.filter(outcome=outcome, reap_task=run).count()  # finished before a retry
    task_run_progress(run, done=_done_count(counts), total=counts["listed"], counts=counts)
    context: dict[str, Any] = {"names": {}, "teams": all_teams(), "store_uri": reaper.readable_backend_store()}
    context["sources"] = write_sources()
    report: list[dict[str, Any]] = []
    todo = list(items.filter(outcome__in=OPEN).order_by("id").values_list("id", flat=True))
    size = max(1, int(settings.MAINTENANCE_BULK_CHUNK))
    for start in range(0, len(todo), size):
        for entry in reap_items_chunk(todo[start : start + size], run, cutoff_ms, reason, context, counts=counts):
            if len(report) < REPORT_LIST_LIMIT:
                report.append(entry)
    task_run_finish(
        run,
        state=TaskState.SUCCEEDED if not counts["failed"] else TaskState.FAILED,
        counts=counts,
        report={"dry_run": False, "listed_from": dry_run.pk, "threshold_hours": hours, "reason": reason}
        | {"runs": report},
        errors=[f"{counts['failed']} listed runs could not be reaped (see the list)"] if counts["failed"] else None,
    )


def _done_count(counts: dict[str, int]) -> int:
    return counts["reaped"] + counts["skipped"] + counts["failed"]
