""" "Reap these now" (maintenance/reap_listed.py), one chunk of a dry run's list at a time (issue 20): the
chunk's items claimed (or taken over from a stopped task) with one update, their runs read again in one read,
each re-checked by the reaper's rule (maintenance.reaper.judge), the stuck ones marked REAPING with what is
about to be sent (one transaction under the task's claim), then written in bulk (maintenance.reap_chunk);
the outcomes, one `run.reap` event per reaped run and the task's progress are recorded in one transaction.
An item a stopped task left REAPING whose run MLflow shows terminated at the planned end time is recorded now
(missing tags written), attributed to the task that sent it, saying it was recovered."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from maintenance import reaper
from maintenance.models import ReapItem, ReapOutcome, TaskRun
from maintenance.reap_chunk import planned_reap, read_chunk, reap_event, send
from maintenance.task_runs import TaskLost, actor_for, fmt_ms, task_run_hold, task_run_progress
from maintenance.work_items import Sources, items_claim
from mlopsadmin.audit.services import audit_record_many
from mlopsadmin.lib import mlflow_client as mlf

UNSETTLED = (ReapOutcome.CLAIMED, ReapOutcome.REAPING)  # held by a reaper task, outcome not recorded
OPEN = (ReapOutcome.PENDING, *UNSETTLED)
RECOVERED_NOTE = "recovered on resume: MLflow shows the run terminated; the worker was lost before recording it"

Outcome = tuple[ReapItem, dict[str, Any], str, str, "dict[str, Any] | None"]  # item, entry, outcome, why, event


def _entry(item: ReapItem) -> dict[str, Any]:
    entry: dict[str, Any] = {"run_id": item.run_id, "experiment_id": item.experiment_id, "run_name": item.run_name}
    entry.update(started=item.started, last_metric="—", last_sign_of_life="—", end_time_source="")
    return entry


def terminate_was_sent(item: ReapItem, fresh: mlf.Run) -> bool:
    """The item's terminate was sent by a task that did not record it, and MLflow shows it applied (FAILED at
    the planned end time): the reap happened, only its record (and maybe its tags) is missing."""
    planned = item.planned or {}
    return (
        item.outcome == ReapOutcome.REAPING and fresh.status == "FAILED" and fresh.end_time == planned.get("end_time")
    )


def reap_items_chunk(
    item_ids: list[int], run: TaskRun, cutoff_ms: int, reason: str, context: dict[str, Any], *, counts: dict[str, int]
) -> list[dict[str, Any]]:
    """Claim, re-check and reap one chunk of listed runs; records outcomes and events, updates `counts`
    (reaped / skipped / failed) and the task's progress. Returns the entries recorded here (for the report).
    Raises TaskLost (claim taken over), MlflowUnavailable (some outcome unknown: after recording the rest)."""
    items = items_claim(
        ReapItem.objects.select_related("reap_task"),
        item_ids,
        pending=ReapOutcome.PENDING,
        claimed=ReapOutcome.CLAIMED,
        unsettled=UNSETTLED,
        reap_task=run,
    )
    if not items:
        return []
    sources: Sources = context["sources"]
    experiments = sorted({item.experiment_id for item in items})
    fresh = read_chunk([item.run_id for item in items], experiments, sources)
    names = context["names"]
    for experiment_id in {run.experiment_id for run in fresh.values()} - set(names):
        names[experiment_id] = _experiment_name(experiment_id)
    outcomes: list[Outcome] = []
    entries = {item.pk: _entry(item) for item in items}
    planned: dict[str, dict[str, Any]] = {}
    recovering: dict[str, ReapItem] = {}
    judged: list[ReapItem] = []
    for item in items:
        entry, found = entries[item.pk], fresh.get(item.run_id)
        if found is None:
            outcomes.append((item, entry, ReapOutcome.SKIPPED, "the run no longer exists in MLflow", None))
        elif terminate_was_sent(item, found):
            recovering[item.run_id] = item
            planned[item.run_id] = dict(item.planned or {})
        elif found.lifecycle_stage == "deleted":
            outcomes.append((item, entry, ReapOutcome.SKIPPED, "deleted since the dry run; left as it is", None))
        else:
            judged.append(item)
    verdicts = {v.run.run_id: v for v in reaper.judge([fresh[i.run_id] for i in judged], cutoff_ms, **_store(context))}
    sending: list[ReapItem] = []
    for item in judged:
        entry, verdict = entries[item.pk], verdicts[item.run_id]
        entry.update(last_metric=fmt_ms(verdict.run.last_metric_time), last_sign_of_life=fmt_ms(verdict.sign.at_ms))
        entry["end_time_source"] = verdict.sign.source
        if not verdict.stuck:
            outcomes.append((item, entry, ReapOutcome.SKIPPED, _alive_reason(verdict.run, verdict), None))
            continue
        planned[item.run_id] = planned_reap(verdict.run, verdict.activity, reason)
        sending.append(item)
    _mark_reaping(sending, planned, run)  # TaskLost: swept while paused, what was read is stale: send nothing
    tags_only = {run_id for run_id, item in recovering.items() if _missing_tags(fresh[run_id], planned[run_id])}
    writes = {run_id: plan for run_id, plan in planned.items() if run_id not in recovering or run_id in tags_only}
    sent = send(writes, experiments, sources, tags_only=tags_only) if writes else None
    reaped = set(sent.reaped if sent else ()) | (set(recovering) - tags_only)
    for item in [*recovering.values(), *sending]:
        entry, plan = entries[item.pk], planned[item.run_id]
        if item.run_id in reaped:
            recovered = item.run_id in recovering
            actor = actor_for((item.reap_task or run) if recovered else run)
            why = f"{reason}; {RECOVERED_NOTE}" if recovered else reason
            event = reap_event(fresh[item.run_id], plan, names, context["teams"], actor=actor, reason=why)
            said = f"reaped ({RECOVERED_NOTE})" if recovered else "reaped"
            outcomes.append((item, entry, ReapOutcome.REAPED, said, event))
        elif sent and item.run_id in sent.failed:
            outcomes.append((item, entry, ReapOutcome.FAILED, sent.failed[item.run_id], None))
    recorded = _record(outcomes, run, counts)
    if sent and sent.unknown:
        raise mlf.MlflowUnavailable(
            f"MLflow unreachable while reaping {len(sent.unknown)} listed runs: read back when the task resumes",
            operation="reaper",
        )
    return recorded


def _store(context: dict[str, Any]) -> dict[str, str]:
    return {"store_uri": context["store_uri"]}


def _missing_tags(found: mlf.Run, planned: dict[str, Any]) -> bool:
    return any(found.tags.get(key) != value for key, value in (planned.get("tags") or {}).items())


def _mark_reaping(items: list[ReapItem], planned: dict[str, dict[str, Any]], run: TaskRun) -> None:
    """The claims say what is about to be sent (REAPING, with the planned end time and tags), in one
    transaction under `run`'s claim. Raises TaskLost when the claim was taken over or an item was settled
    by another task (nothing is sent)."""
    if not items:
        return
    with transaction.atomic():
        task_run_hold(run)
        open_ids = set(
            ReapItem.objects.select_for_update()
            .filter(pk__in=[item.pk for item in items], outcome__in=UNSETTLED)
            .values_list("pk", flat=True)
        )
        if len(open_ids) != len(items):
            raise TaskLost("some listed runs were settled by another task: nothing sent")
        for item in items:
            plan = {key: planned[item.run_id][key] for key in ("end_time", "tags", "before_end_time")}
            ReapItem.objects.filter(pk=item.pk).update(outcome=ReapOutcome.REAPING, reap_task=run, planned=plan)
            item.planned, item.outcome = plan, ReapOutcome.REAPING


def _record(outcomes: list[Outcome], run: TaskRun, counts: dict[str, int]) -> list[dict[str, Any]]:
    """The chunk's outcomes (item order), their events and the progress in one transaction under `run`'s
    claim; items recorded meanwhile by someone else are left out. Raises TaskLost when the claim was taken over."""
    ordered = sorted(outcomes, key=lambda outcome: outcome[0].pk)
    recorded: list[dict[str, Any]] = []
    with transaction.atomic():
        task_run_hold(run)
        ids = [item.pk for item, *_ in ordered]
        open_ids = set(
            ReapItem.objects.select_for_update().filter(pk__in=ids, outcome__in=UNSETTLED).values_list("pk", flat=True)
        )
        events = []
        now = timezone.now()
        for item, entry, outcome, why, event in ordered:
            if item.pk not in open_ids:
                continue
            ReapItem.objects.filter(pk=item.pk).update(outcome=outcome, outcome_reason=why[:256], executed_at=now)
            entry.update(outcome=str(outcome), reason=why)
            counts[str(outcome)] += 1
            recorded.append(entry)
            if event is not None:
                events.append(event)
        audit_record_many(events)
        done = counts["reaped"] + counts["skipped"] + counts["failed"]
        task_run_progress(run, done=done, counts=counts)
    return recorded


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
