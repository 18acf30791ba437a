"""Reap what a reviewed dry run listed ("reap these now", issue 19): exactly the runs the dry run found
stuck (its ReapItem rows, all of them, not only the report's first REPORT_LIST_LIMIT), each re-checked by
the reaper's own rule at that moment (maintenance.reaper.judge: the rule lives there alone); a run that
came alive since is skipped and the report says so. Runs as a reaper TaskRun (one reaper at a time, the
scheduled one included); each item is claimed with a conditional update, so a retried task never
reaps twice; each reaped run is one `run.reap` audit event (written by maintenance.reaper.reap_one)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from maintenance import reaper
from maintenance.models import ReapItem, ReapOutcome, TaskKind, TaskRun, TaskState
from maintenance.task_runs import (
    REPORT_LIST_LIMIT,
    TaskLost,
    actor_for,
    fmt_ms,
    item_claim,
    task_run_create,
    task_run_enqueue,
    task_run_finish,
    task_run_hold,
    task_run_progress,
)
from mlopsadmin import policy
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import Conflict, NotFound, RuleViolation
from mlopsadmin.core.selectors import all_teams
from mlopsadmin.lib import mlflow_client as mlf

MAX_ID = 2**63 - 1
UNSETTLED = (ReapOutcome.CLAIMED, ReapOutcome.REAPING)  # held by a reaper task, outcome not recorded
OPEN = (ReapOutcome.PENDING, *UNSETTLED)
RECOVERED_NOTE = "recovered on resume: MLflow shows the run terminated; the worker was lost before recording it"


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
    context = {"names": {}, "teams": all_teams(), "store_uri": reaper.readable_backend_store()}
    report: list[dict[str, Any]] = []
    todo = items.filter(outcome__in=OPEN).order_by("id")
    for item_id in list(todo.values_list("id", flat=True)):
        entry = _reap_item(item_id, run, cutoff_ms, reason, context)
        if entry is None:
            continue
        counts[entry["outcome"]] += 1
        if len(report) < REPORT_LIST_LIMIT:
            report.append(entry)
        task_run_progress(run, done=_done_count(counts), counts=counts)
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


def _reap_item(
    item_id: int, run: TaskRun, cutoff_ms: int, reason: str, context: dict[str, Any]
) -> dict[str, Any] | None:
    """One listed run: claimed (or taken over from a task that stopped before recording it), re-checked by
    the rule on MLflow's state now, reaped by reaper.reap_one. None when another task has it."""
    item = _take(item_id, run)
    if item is None:
        return None
    entry: dict[str, Any] = {"run_id": item.run_id, "experiment_id": item.experiment_id, "run_name": item.run_name}
    entry.update(started=item.started, last_metric="—", last_sign_of_life="—", end_time_source="")
    try:
        fresh = mlf.get_run(item.run_id)
    except mlf.MlflowNotFound:
        return _done(item, entry, ReapOutcome.SKIPPED, "the run no longer exists in MLflow", run)
    if fresh.experiment_id not in context["names"]:
        context["names"][fresh.experiment_id] = _experiment_name(fresh.experiment_id)
    if _terminate_was_sent(item, fresh):
        return _recover(item, fresh, entry, run, reason, context)
    if fresh.lifecycle_stage == "deleted":
        return _done(item, entry, ReapOutcome.SKIPPED, "deleted since the dry run; left as it is", run)
    entry["last_metric"] = fmt_ms(fresh.last_metric_time)
    verdict = next(reaper.judge([fresh], cutoff_ms, store_uri=context["store_uri"]))
    entry["last_sign_of_life"] = fmt_ms(verdict.sign.at_ms)
    entry["end_time_source"] = verdict.sign.source
    if not verdict.stuck:
        return _done(item, entry, ReapOutcome.SKIPPED, _alive_reason(fresh, verdict), run)

    def sending(planned: dict[str, Any]) -> None:  # the claim says what is about to be sent
        with transaction.atomic():
            task_run_hold(run)  # TaskLost: swept while paused, what was read is stale: send nothing
            marked = ReapItem.objects.filter(pk=item.pk, outcome__in=UNSETTLED).update(
                outcome=ReapOutcome.REAPING, reap_task=run, planned=planned
            )
        if not marked:
            raise TaskLost(f"listed run {item.run_id} was settled by another task: nothing sent")

    names, teams = context["names"], context["teams"]
    outcome = reaper.reap_one(entry, verdict.activity, cutoff_ms, reason, names, teams, run, on_send=sending)
    if outcome == "reaped":
        return _done(item, entry, ReapOutcome.REAPED, "reaped", run)
    if outcome == "changed":
        return _done(item, entry, ReapOutcome.SKIPPED, "came alive while it was being reaped; left running", run)
    return _done(item, entry, ReapOutcome.FAILED, entry.get("error", "MLflow refused the change"), run)


def _take(item_id: int, run: TaskRun) -> ReapItem | None:
    """Claim a pending item for `run`, or take over one a stopped task left claimed or reaping (one reaper
    task runs at a time, so its holder is gone). None: settled already."""
    item: ReapItem | None = item_claim(
        ReapItem.objects.select_related("reap_task"),
        item_id,
        pending=ReapOutcome.PENDING,
        claimed=ReapOutcome.CLAIMED,
        unsettled=UNSETTLED,
        reap_task=run,
    )
    return item


def _terminate_was_sent(item: ReapItem, fresh: mlf.Run) -> bool:
    """The item's terminate was sent by a task that did not record it, and MLflow shows it applied (FAILED at
    the planned end time): the reap happened, only its record (and maybe its tags) is missing."""
    planned = item.planned or {}
    return (
        item.outcome == ReapOutcome.REAPING and fresh.status == "FAILED" and fresh.end_time == planned.get("end_time")
    )


def _recover(
    item: ReapItem, fresh: mlf.Run, entry: dict[str, Any], run: TaskRun, reason: str, context: dict[str, Any]
) -> dict[str, Any]:
    """Record the reap a lost worker sent but never recorded: missing tags written, one `run.reap` event
    attributed to the actor of the task that sent it (`run`'s when unknown), saying it was recovered."""
    planned = item.planned or {}
    tags = {k: v for k, v in (planned.get("tags") or {}).items() if fresh.tags.get(k) != v}
    if tags:
        mlf.log_batch(fresh.run_id, tags=tags)  # MlflowUnavailable: the item stays reaping for the retry
    with transaction.atomic():
        if not ReapItem.objects.select_for_update().filter(pk=item.pk, outcome=ReapOutcome.REAPING).exists():
            return {**entry, "outcome": "reaped", "reason": "recorded meanwhile"}
        after = {"status": "FAILED", "end_time": planned.get("end_time"), **(planned.get("tags") or {})}
        reaper.reap_audit(
            fresh,
            context["names"],
            context["teams"],
            actor=actor_for(item.reap_task or run),
            before_end_time=planned.get("before_end_time"),
            after=after,
            reason=f"{reason}; {RECOVERED_NOTE}",
        )
        return _done(item, entry, ReapOutcome.REAPED, f"reaped ({RECOVERED_NOTE})", run)


def _alive_reason(fresh: mlf.Run, verdict: reaper.Verdict) -> str:
    if fresh.status != "RUNNING":
        return f"no longer RUNNING: {fresh.status} since the dry run"
    when = fmt_ms(verdict.sign.at_ms)
    return f"came alive since the dry run: last sign of life {when} ({verdict.sign.source}); left running"


def _experiment_name(experiment_id: str) -> str:
    try:
        return mlf.get_experiment(experiment_id).name
    except mlf.MlflowNotFound:
        return ""


def _done(item: ReapItem, entry: dict[str, Any], outcome: str, why: str, run: TaskRun) -> dict[str, Any]:
    """Record the item's outcome while `run`'s claim holds (TaskLost otherwise: the task that took over
    settles the item from what MLflow shows)."""
    with transaction.atomic():
        task_run_hold(run)
        ReapItem.objects.filter(pk=item.pk, outcome__in=UNSETTLED).update(
            outcome=outcome, outcome_reason=why[:256], executed_at=timezone.now()
        )
    entry.update(outcome=str(outcome), reason=why)
    return entry
