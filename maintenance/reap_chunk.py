"""The reaper's writes, a chunk of runs at a time (issue 20): the chunk's runs read again in ONE read (the
backend store when it is used for writes — work_items.write_sources — else one `search_runs` per 100 runs),
each re-checked by the stuck-run rule (maintenance.reaper.is_stuck, with its confirmed activity), then
terminated as FAILED at its last sign of life and tagged, `workers` at a time over REST or through MLflow's
own store layer in-process. A write that failed is read back (FAILED at the planned end time with every tag:
it landed) before anything is recorded. The caller records the outcomes and one `run.reap` event per reaped
run (reap_event) in one transaction per chunk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from maintenance import reaper
from maintenance.task_runs import fmt_ms
from maintenance.work_items import Sources
from mlopsadmin.lib import mlflow_client as mlf

TAG_KEYS = (reaper.REAPED_TAG, reaper.END_TIME_SOURCE_TAG, reaper.REAPED_AT_TAG, reaper.REAP_REASON_TAG)


@dataclass
class Sent:
    """What a chunk's writes did: run ids reaped (written, or read back as written), failed (run id → the
    error MLflow gave), unknown (MLflow unreachable, also when read back: the outcome is not known)."""

    reaped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)


def read_chunk(run_ids: list[str], experiment_ids: list[str], sources: Sources) -> dict[str, mlf.Run]:
    """The chunk's runs now (any lifecycle stage; a missing one no longer exists), with the reaper's tags."""
    if sources.store_uri:
        try:
            return mlf.get_runs(run_ids, experiment_ids, store_uri=sources.store_uri, tag_keys=TAG_KEYS)
        except mlf.BackendStoreError:
            pass  # the tracking API answers the same, slower
    return mlf.get_runs(run_ids, experiment_ids, workers=sources.workers)


def planned_reap(fresh: mlf.Run, activity: mlf.RunActivity | None, reason: str) -> dict[str, Any]:
    """What reaping `fresh` writes: {"end_time": its last sign of life, "tags": the reaper's four tags,
    "before_end_time": its end_time now, "source": where the end time comes from}."""
    sign = reaper.last_sign_of_life(fresh, activity)
    tags = {
        reaper.REAPED_TAG: "true",
        reaper.END_TIME_SOURCE_TAG: sign.source,
        reaper.REAPED_AT_TAG: timezone.now().isoformat(timespec="seconds"),
        reaper.REAP_REASON_TAG: reason,
    }
    return {"end_time": sign.at_ms, "tags": tags, "before_end_time": fresh.end_time, "source": sign.source}


def shows_reaped(found: mlf.Run | None, planned: dict[str, Any]) -> bool:
    """MLflow shows the planned reap applied: FAILED at the planned end time, every planned tag set."""
    if found is None or (found.status, found.end_time) != ("FAILED", planned["end_time"]):
        return False
    return all(found.tags.get(key) == value for key, value in planned["tags"].items())


def send(
    planned: dict[str, dict[str, Any]],
    experiment_ids: list[str],
    sources: Sources,
    *,
    tags_only: frozenset[str] | set[str] = frozenset(),
) -> Sent:
    """Terminate and tag the runs of `planned` (run id → planned_reap), `tags_only`: runs already terminated
    whose missing tags alone are written; failures read back. Never raises for one run."""
    ends = {
        run_id: ("FAILED", plan["end_time"], plan["tags"])
        for run_id, plan in planned.items()
        if run_id not in tags_only
    }
    destination = settings.MLFLOW_ARTIFACTS_DESTINATION
    results: dict[str, mlf.MlflowError | None] = {}
    if ends:
        results = mlf.terminate_runs(
            ends, workers=sources.workers, store_uri=sources.store_uri, artifacts_destination=destination
        )
    for run_id in tags_only:
        try:
            mlf.log_batch(run_id, tags=planned[run_id]["tags"])
            results[run_id] = None
        except mlf.MlflowError as exc:
            results[run_id] = exc
    sent = Sent()
    failed = [run_id for run_id, error in results.items() if error is not None]
    shown: dict[str, mlf.Run] | None = None
    if failed:
        try:
            shown = read_chunk(failed, experiment_ids, sources)
        except mlf.MlflowError:
            shown = None
    for run_id in planned:
        error = results.get(run_id)
        if error is None or (shown is not None and shows_reaped(shown.get(run_id), planned[run_id])):
            sent.reaped.append(run_id)
        elif shown is None or isinstance(error, mlf.MlflowUnavailable):
            sent.unknown.append(run_id)
        else:
            sent.failed[run_id] = str(error)[:200]
    return sent


def reap_chunk(
    entries: list[dict[str, Any]],
    activities: dict[str, mlf.RunActivity | None],
    cutoff_ms: int,
    reason: str,
    sources: Sources,
    on_send: Callable[[dict[str, dict[str, Any]]], None] | None = None,
) -> tuple[dict[str, str], dict[str, dict[str, Any]], dict[str, mlf.Run], Sent]:
    """Re-check and reap listed runs (`entries`: the reaper's entry dicts, updated in place with the last
    sign of life and, for a refused write, "error"). Returns (run id → "changed" for those no longer stuck
    or gone, the planned reaps, the fresh runs, what the writes did). `on_send(planned)` runs right before
    the writes (a claim records them; it may raise TaskLost: nothing is sent)."""
    run_ids = [entry["run_id"] for entry in entries]
    experiments = sorted({str(entry["experiment_id"]) for entry in entries})
    fresh = read_chunk(run_ids, experiments, sources)
    changed: dict[str, str] = {}
    planned: dict[str, dict[str, Any]] = {}
    for entry in entries:
        found = fresh.get(entry["run_id"])
        activity = activities.get(entry["run_id"])
        if found is None or found.lifecycle_stage == "deleted" or not reaper.is_stuck(found, cutoff_ms, activity):
            changed[entry["run_id"]] = "changed"  # it finished, logged something or was deleted since the listing
            continue
        plan = planned_reap(found, activity, reason)
        entry.update(last_sign_of_life=fmt_ms(plan["end_time"]), end_time_source=plan["source"])
        planned[found.run_id] = plan
    if on_send is not None and planned:
        on_send(planned)
    sent = send(planned, experiments, sources) if planned else Sent()
    for entry in entries:
        if entry["run_id"] in sent.failed:
            entry["error"] = sent.failed[entry["run_id"]]
    return changed, planned, fresh, sent


def reap_event(
    fresh: mlf.Run,
    planned: dict[str, Any],
    names: dict[str, str],
    teams: list[Any],
    *,
    actor: Any,
    reason: str,
    team_of: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The `run.reap` audit event (audit_record's keywords) of a reaped run; its team from its experiment's
    name (`names`: id → name), remembered per experiment in `team_of` when given (a chunk's runs share few)."""
    from catalog.selectors import experiment_teams

    known = team_of if team_of is not None else {}
    if fresh.experiment_id not in known:
        team = experiment_teams([(fresh.experiment_id, names.get(fresh.experiment_id, ""))], teams)[fresh.experiment_id]
        known[fresh.experiment_id] = team.name if team else ""
    return {
        "actor": actor,
        "action": "run.reap",
        "target_kind": "run",
        "target_id": fresh.run_id,
        "team": known[fresh.experiment_id],
        "before": {"status": "RUNNING", "end_time": planned.get("before_end_time")},
        "after": {"status": "FAILED", "end_time": planned.get("end_time"), **(planned.get("tags") or {})},
        "reason": reason,
    }


def reap_chunk_recorded(
    entries: list[dict[str, Any]],
    activities: dict[str, mlf.RunActivity | None],
    cutoff_ms: int,
    reason: str,
    names: dict[str, str],
    teams: list[Any],
    run: Any,
    *,
    counts: dict[str, int],
    sources: Sources,
) -> None:
    """The scheduled reaper's chunk: reap_chunk, then the outcomes (each entry's "outcome", `counts`), one
    `run.reap` event per reaped run in listing order and the task's progress, in one transaction. Raises
    MlflowUnavailable after recording the rest when some write's outcome stays unknown. Raises TaskLost, sending
    nothing, when the task's claim was taken over before the writes (a worker paused after its re-read and swept
    meanwhile must not terminate runs on that stale read: one may have come alive)."""
    from django.db import transaction

    from maintenance.task_runs import actor_for, task_run_hold, task_run_progress
    from mlopsadmin.audit.services import audit_record_many

    def fence(planned: dict[str, dict[str, Any]]) -> None:
        with transaction.atomic():
            task_run_hold(run)

    changed, planned, fresh, sent = reap_chunk(entries, activities, cutoff_ms, reason, sources, on_send=fence)
    reaped = set(sent.reaped)
    events: list[dict[str, Any]] = []
    team_of: dict[str, str] = {}
    for entry in entries:
        run_id = entry["run_id"]
        if run_id in changed:
            entry["outcome"] = "changed"
        elif run_id in reaped:
            entry["outcome"] = "reaped"
            event = reap_event(
                fresh[run_id], planned[run_id], names, teams, actor=actor_for(run), reason=reason, team_of=team_of
            )
            events.append(event)
        elif run_id in sent.failed:
            entry["outcome"] = "failed"
        else:
            continue  # unknown: not counted
        counts[entry["outcome"]] += 1
    with transaction.atomic():
        audit_record_many(events)
        done = counts["reaped"] + counts["changed"] + counts["failed"]
        task_run_progress(run, done=done, total=counts["stuck"], counts=counts)
    if sent.unknown:
        raise mlf.MlflowUnavailable(
            f"MLflow unreachable while reaping {len(sent.unknown)} runs (e.g. {sent.unknown[0]})", operation="reaper"
        )
