"""The reaper's writes, a chunk of runs at a time (issue 20): the chunk's runs read again in ONE read (the
backend store when it is used for writes — work_items.write_sources — else one `search_runs` per 100 runs),
each re-checked by the stuck-run rule (maintenance.reaper.is_stuck, with its confirmed activity), then
terminated as FAILED at its last sign of life and tagged, `workers` at a time over REST or through MLflow's
own store layer in-process. A write that failed is read back (FAILED at the planned end time with every tag:
it landed) before anything is recorded. The caller records the outcomes and one `run.reap` event per reaped
run (reap_event) in one transaction per chunk."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from maintenance import reaper
from maintenance.task_runs import fmt_ms
from maintenance.work_items import Sources
from mlopsadmin.lib import mlflow_client as mlf

logger = logging.getLogger(__name__)
TAG_KEYS = (reaper.REAPED_TAG, reaper.END_TIME_SOURCE_TAG, reaper.REAPED_AT_TAG, reaper.REAP_REASON_TAG)


@dataclass
class Sent:
    """What a chunk's writes did: run ids reaped (written, or read back as ended: then a tag write that failed
    is in `untagged`), failed (run id → the error MLflow gave), unknown (MLflow unreachable, also when read
    back: the outcome is not known)."""

    reaped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    untagged: dict[str, str] = field(default_factory=dict)  # reaped, but its tags could not be written


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


def shows_ended(found: mlf.Run, planned: dict[str, Any]) -> bool:
    """MLflow shows the planned terminate applied (FAILED at the planned end time), tags written or not."""
    return (found.status, found.end_time) == ("FAILED", planned["end_time"])


def _tags_again(run_id: str, found: mlf.Run, planned: dict[str, Any], sent: Sent) -> None:
    """A run ended by its terminate whose tag write failed (REST sends them apart): it was reaped all the same
    (the next pass no longer lists it, so its run.reap event is due now). The missing tags are written once
    more; if that fails too, `planned["tags"]` keeps only those MLflow shows (what its event records) and the
    error is kept in `sent.untagged`."""
    sent.reaped.append(run_id)
    missing = {key: value for key, value in planned["tags"].items() if found.tags.get(key) != value}
    try:
        mlf.log_batch(run_id, tags=missing)
    except mlf.MlflowError as exc:
        planned["tags"] = {key: value for key, value in planned["tags"].items() if key not in missing}
        sent.untagged[run_id] = f"ended, but its tags were not written: {str(exc)[:160]}"


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
        found = shown.get(run_id) if shown is not None else None
        if error is None or shows_reaped(found, planned[run_id]):
            sent.reaped.append(run_id)
        elif found is not None and shows_ended(found, planned[run_id]):
            _tags_again(run_id, found, planned[run_id], sent)  # the terminate landed: reaped, its event is due
        elif shown is None or isinstance(error, mlf.MlflowUnavailable):
            sent.unknown.append(run_id)
        else:
            sent.failed[run_id] = str(error)[:200]
    return sent


@dataclass
class _Prepared:
    """A chunk re-read and re-checked: run id → "changed" (no longer stuck or gone), the planned reaps, the
    fresh runs and the chunk's experiments."""

    changed: dict[str, str]
    planned: dict[str, dict[str, Any]]
    fresh: dict[str, mlf.Run]
    experiments: list[str]


def _prepare(
    entries: list[dict[str, Any]],
    cutoff_ms: int,
    reason: str,
    sources: Sources,
    judge_store: str,
) -> _Prepared:
    run_ids = [entry["run_id"] for entry in entries]
    experiments = sorted({str(entry["experiment_id"]) for entry in entries})
    fresh = read_chunk(run_ids, experiments, sources)
    # judged again on what MLflow shows now, its activity confirmed again (never the listing's: a resumed
    # script that logged a lower step, a logged model or a trace since the listing is alive)
    present = [found for found in fresh.values() if found.lifecycle_stage != "deleted"]
    verdicts = {v.run.run_id: v for v in reaper.judge(present, cutoff_ms, store_uri=judge_store)}
    changed: dict[str, str] = {}
    planned: dict[str, dict[str, Any]] = {}
    for entry in entries:
        found, verdict = fresh.get(entry["run_id"]), verdicts.get(entry["run_id"])
        if found is None or verdict is None or not verdict.stuck:
            changed[entry["run_id"]] = "changed"  # it finished, logged something or was deleted since the listing
            continue
        plan = planned_reap(found, verdict.activity, reason)
        entry.update(last_sign_of_life=fmt_ms(plan["end_time"]), end_time_source=plan["source"])
        planned[found.run_id] = plan
    return _Prepared(changed, planned, fresh, experiments)


def _send(prepared: _Prepared, sources: Sources) -> Sent:
    return send(prepared.planned, prepared.experiments, sources) if prepared.planned else Sent()


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


def _fence(run: Any) -> None:
    from django.db import transaction

    from maintenance.task_runs import task_run_hold

    with transaction.atomic():
        task_run_hold(run)


@dataclass
class _Finished:
    """A written chunk's outcome: its `run.reap` events (listing order) and the runs whose write's outcome
    stays unknown."""

    events: list[dict[str, Any]]
    unknown: list[str]


def _finish(
    entries: list[dict[str, Any]],
    done: tuple[dict[str, str], dict[str, dict[str, Any]], dict[str, mlf.Run], Sent],
    names: dict[str, str],
    teams: list[Any],
    run: Any,
    reason: str,
    counts: dict[str, int],
) -> _Finished:
    """Each entry's "outcome" (and "error"), `counts`, and one `run.reap` event per reaped run, in listing order."""
    from maintenance.task_runs import actor_for

    changed, planned, fresh, sent = done
    reaped = set(sent.reaped)
    events: list[dict[str, Any]] = []
    team_of: dict[str, str] = {}
    for entry in entries:
        run_id = entry["run_id"]
        if run_id in changed:
            entry["outcome"] = "changed"
        elif run_id in reaped:
            entry["outcome"] = "reaped"
            if run_id in sent.untagged:
                entry["error"] = sent.untagged[run_id]
            event = reap_event(
                fresh[run_id], planned[run_id], names, teams, actor=actor_for(run), reason=reason, team_of=team_of
            )
            events.append(event)
        elif run_id in sent.failed:
            entry["outcome"] = "failed"
            entry["error"] = sent.failed[run_id]
        else:
            continue  # unknown: not counted
        counts[entry["outcome"]] += 1
    return _Finished(events, list(sent.unknown))


def _record(finished: _Finished, run: Any, counts: dict[str, int]) -> None:
    """The chunk's events and the task's progress in one transaction; then MlflowUnavailable when some write's
    outcome stays unknown."""
    from django.db import transaction

    from maintenance.task_runs import task_run_progress
    from mlopsadmin.audit.services import audit_record_many

    with transaction.atomic():
        audit_record_many(finished.events)
        done = counts["reaped"] + counts["changed"] + counts["failed"]
        task_run_progress(run, done=done, total=counts["stuck"], counts=counts)
    if finished.unknown:
        raise mlf.MlflowUnavailable(
            f"MLflow unreachable while reaping {len(finished.unknown)} runs (e.g. {finished.unknown[0]})",
            operation="reaper",
        )


def reap_chunks_recorded(
    chunks: list[list[dict[str, Any]]],
    cutoff_ms: int,
    reason: str,
    names: dict[str, str],
    teams: list[Any],
    run: Any,
    *,
    counts: dict[str, int],
    sources: Sources,
) -> None:
    """Re-check and reap each chunk of listed runs (the reaper's entry dicts, updated in place with the last
    sign of life, the outcome and, for a refused write, "error"), then record the outcomes, one `run.reap` event
    per reaped run in listing order and the task's progress in one transaction per chunk. Each chunk is fenced
    by the task's claim right before its writes (TaskLost: a worker paused after its re-read and swept meanwhile
    sends nothing on that stale read). Over REST the loop is pipelined (as the cleanup execute's):
    the next chunk is re-read and re-checked while this chunk's writes are in flight, and a chunk is recorded
    while the next one's writes are — never more than one chunk's writes in flight (`sources.workers` requests),
    each chunk fenced by the task's claim right before its writes, so a run is re-checked at most one chunk's
    writes before its own are sent. Through MLflow's store layer (one writer) chunk after chunk. Raises TaskLost,
    or MlflowUnavailable after recording the rest when some write's outcome stays unknown."""
    # where activity is confirmed: the store written through, else one still readable (checked once per task)
    judge_store = sources.store_uri or reaper.readable_backend_store()
    if sources.store_uri:
        for entries in chunks:
            prepared = _prepare(entries, cutoff_ms, reason, sources, judge_store)
            if prepared.planned:
                _fence(run)
            done = (prepared.changed, prepared.planned, prepared.fresh, _send(prepared, sources))
            _record(_finish(entries, done, names, teams, run, reason, counts), run, counts)
        return
    from concurrent.futures import Future, ThreadPoolExecutor

    in_flight: tuple[list[dict[str, Any]], _Prepared, Future[Sent]] | None = None

    def finish(flying: tuple[list[dict[str, Any]], _Prepared, Future[Sent]]) -> _Finished:
        entries, prepared, sending = flying
        done = (prepared.changed, prepared.planned, prepared.fresh, sending.result())
        found = _finish(entries, done, names, teams, run, reason, counts)
        if found.unknown:
            _record(found, run, counts)  # raises MlflowUnavailable: nothing more is sent
        return found

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reaper-send") as sender:
        try:
            for entries in chunks:
                prepared = _prepare(entries, cutoff_ms, reason, sources, judge_store)
                finished: _Finished | None = None
                if in_flight is not None:
                    flying, in_flight = in_flight, None
                    finished = finish(flying)
                try:
                    if prepared.planned:
                        _fence(run)
                except BaseException:
                    if finished is not None:
                        _record(finished, run, counts)
                    raise
                in_flight = (entries, prepared, sender.submit(_send, prepared, sources))
                if finished is not None:
                    _record(finished, run, counts)
            if in_flight is not None:
                flying, in_flight = in_flight, None
                _record(finish(flying), run, counts)
        except BaseException:
            if in_flight is not None:  # its writes were sent: wait for them and record what is known
                _drain(in_flight, finish, run, counts)
            raise


def _drain(flying: Any, finish: Callable[[Any], _Finished], run: Any, counts: dict[str, int]) -> None:
    """Best effort while another error is on its way up: record the in-flight chunk once its writes returned."""
    try:
        _record(finish(flying), run, counts)
    except Exception as exc:  # the original error is the one raised; this one is logged
        logger.warning("reaper task %s: in-flight chunk not recorded: %s", getattr(run, "pk", run), exc)
