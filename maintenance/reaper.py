"""The stuck-run reaper and THE stuck-run rule (used by the reaper, the cleanup plan's "still RUNNING"
exclusion and the weekly checklist probe; nothing else decides whether a run is stuck).

A RUNNING run is stuck when its last sign of life is older than the threshold, whatever its end_time says
(a finished run resumed with `mlflow.start_run(run_id=…)` is RUNNING with its OLD end_time; MLFLOW-NOTES.md).
Signs of life MLflow 3 records a time for: metric values, logged models whose source run it is, traces
recorded in it (GenAI runs that log traces and no metric), the end of an earlier life (the end_time a
resumed run keeps) and the start. Params and tags carry no time. A reaped run is terminated as FAILED with
end_time = its last sign of life (not now: it enters the 90-day cleanup on time) and tagged
`mlopsadmin.reaped=true`, `mlopsadmin.end_time_source`, when and why."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from maintenance.models import ReapItem, TaskKind, TaskRun, TaskState
from maintenance.selectors import experiment_resolve
from maintenance.task_runs import (
    REPORT_LIST_LIMIT,
    fmt_ms,
    now_ms,
    task_run_create,
    task_run_enqueue,
    task_run_finish,
    task_run_progress,
)
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.core.selectors import all_teams
from mlopsadmin.lib import mlflow_client as mlf

logger = logging.getLogger(__name__)

REAPED_TAG = "mlopsadmin.reaped"
END_TIME_SOURCE_TAG = "mlopsadmin.end_time_source"
REAPED_AT_TAG = "mlopsadmin.reaped_at"
REAP_REASON_TAG = "mlopsadmin.reap_reason"
# Where a last sign of life comes from (the value of END_TIME_SOURCE_TAG), preferred in this order on a tie.
SOURCE_METRIC, SOURCE_MODEL, SOURCE_TRACE, SOURCE_PREVIOUS_END, SOURCE_START = (
    "last_metric",
    "logged_model",
    "last_trace",
    "previous_end_time",
    "start_time",
)
FUTURE_TOLERANCE_MS = 3_600_000  # a sign of life more than this far ahead of now is a wrong clock, not life
CONFIRM_BATCH = {True: 500, False: 100}  # suspects confirmed per batch: from the backend store / over REST


@dataclass(frozen=True)
class SignOfLife:
    """The newest time (ms since the epoch) a run is known to have done something, and where it comes from
    (SOURCE_*); at_ms None when MLflow records no time at all for the run."""

    at_ms: int | None
    source: str


@dataclass(frozen=True)
class Verdict:
    """The rule's answer for one listed run; `activity` is set when the run was confirmed against its full
    metric history and logged models (only runs that looked stuck on what the listing returned)."""

    run: mlf.Run
    sign: SignOfLife
    stuck: bool
    activity: mlf.RunActivity | None = None


def stuck_cutoff_ms(hours: float | None = None) -> int:
    """The stuck-run cutoff (ms since the epoch): now minus `hours`, by default
    MAINTENANCE_REAPER_THRESHOLD_HOURS (the one stuck-run age; the weekly checklist uses it too)."""
    hours = settings.MAINTENANCE_REAPER_THRESHOLD_HOURS if hours is None else hours
    return now_ms() - int(float(hours) * 3_600_000)


def stuck_query(cutoff_ms: int) -> str:
    """The server-side filter for stuck-run suspects: RUNNING and started before the cutoff (the start is
    a sign of life, so a run started later cannot be stuck)."""
    return f"attributes.status = 'RUNNING' AND attributes.start_time < {cutoff_ms}"


def not_after_ms() -> int:
    """The newest time a sign of life may have: now plus FUTURE_TOLERANCE_MS. Clients send metric timestamps
    (and may set start/end times): one in microseconds, or from a box whose clock is days ahead, is dated in
    the future and would keep a dead run "alive" for ever; such a time is not evidence."""
    return now_ms() + FUTURE_TOLERANCE_MS


def last_sign_of_life(
    run: mlf.Run, activity: mlf.RunActivity | None = None, *, not_after: int | None = None
) -> SignOfLife:
    """The newest of: the metric timestamps the run was listed with (each key's latest value), and with
    `activity` its newest metric value of any step, its logged models' last update and its newest trace's
    end; the end_time it kept from an earlier life (RUNNING runs only: a resumed run); its start_time —
    leaving out any time after `not_after` (default not_after_ms(): more than an hour ahead of now). Pure
    function of its arguments when `not_after` is given."""
    limit = not_after_ms() if not_after is None else not_after
    seen: list[tuple[int | None, str]] = [(run.last_metric_time, SOURCE_METRIC)]
    if activity is not None:
        seen += [
            (activity.last_metric_time, SOURCE_METRIC),
            (activity.last_model_time, SOURCE_MODEL),
            (activity.last_trace_time, SOURCE_TRACE),
        ]
    seen += [(run.end_time if run.status == "RUNNING" else None, SOURCE_PREVIOUS_END), (run.start_time, SOURCE_START)]
    best = SignOfLife(None, "")
    for at_ms, source in seen:
        if at_ms and at_ms <= limit and (best.at_ms is None or at_ms > best.at_ms):
            best = SignOfLife(int(at_ms), source)
    return best


def is_stuck(run: mlf.Run, cutoff_ms: int, activity: mlf.RunActivity | None = None) -> bool:
    """THE stuck-run rule: RUNNING and the last sign of life (last_sign_of_life) is older than `cutoff_ms`,
    whatever end_time says. A run with no recorded time at all is never called stuck. Pure function."""
    if run.status != "RUNNING":
        return False
    at_ms = last_sign_of_life(run, activity).at_ms
    return at_ms is not None and at_ms < cutoff_ms


def running_reason(run: mlf.Run, cutoff_ms: int) -> str:
    """Why a cleanup keeps a RUNNING run, by the rule above on what the listing returned: stuck (the
    reaper's job) or alive, with the last sign of life."""
    sign = last_sign_of_life(run)
    when = f"{fmt_ms(sign.at_ms)} ({sign.source or 'no time recorded'})"
    if is_stuck(run, cutoff_ms):
        return f"still RUNNING: stuck, no sign of life since {when}; the reaper's job"
    return f"still RUNNING: alive, last sign of life {when}"


def readable_backend_store() -> str:
    """The backend store URI when it can be read (read-only: reachable, on the installed MLflow's schema
    revision), else '' (callers then ask the tracking API: slower, same answer)."""
    uri = settings.MLFLOW_BACKEND_STORE_URI
    return uri if uri and not mlf.backend_store_unusable_reason(uri) else ""


def judge(runs: Iterable[mlf.Run], cutoff_ms: int, *, store_uri: str = "") -> Iterator[Verdict]:
    """The rule over a stream of listed runs. A run that looks stuck on what the listing returned is
    confirmed, in batches, against its full metric history and logged models (MLflow's latest value of a
    metric is its highest step: a resumed run logging lower steps again would otherwise look silent), from
    the backend store `store_uri` when given, else through the tracking API. Verdicts come out per batch,
    not in listing order. Raises MlflowError."""
    pending: list[mlf.Run] = []
    for run in runs:
        if not is_stuck(run, cutoff_ms):
            yield Verdict(run, last_sign_of_life(run), False)
            continue
        pending.append(run)
        if len(pending) >= CONFIRM_BATCH[bool(store_uri)]:
            yield from _confirm(pending, cutoff_ms, store_uri)
            pending = []
    yield from _confirm(pending, cutoff_ms, store_uri)


def _confirm(suspects: list[mlf.Run], cutoff_ms: int, store_uri: str) -> Iterator[Verdict]:
    if not suspects:
        return
    bound = not_after_ms()
    try:
        activities = mlf.runs_activity(suspects, store_uri=store_uri, not_after_ms=bound)
    except mlf.BackendStoreError as exc:
        logger.warning("reaper: %s; asking the tracking API instead", exc)
        activities = mlf.runs_activity(suspects, not_after_ms=bound)
    for run in suspects:
        activity = activities.get(run.run_id)
        yield Verdict(run, last_sign_of_life(run, activity), is_stuck(run, cutoff_ms, activity), activity)


def stuck_runs(experiment_ids: list[str], cutoff_ms: int) -> Iterator[Verdict]:
    """The stuck runs of these experiments (all pages), confirmed: what the reaper would end now."""
    listed = mlf.iter_runs(experiment_ids, filter_string=stuck_query(cutoff_ms))
    yield from (verdict for verdict in judge(listed, cutoff_ms, store_uri=readable_backend_store()) if verdict.stuck)


def reaper_start(
    *, actor: Any, dry_run: bool = True, threshold_hours: float | None = None, experiment: str = ""
) -> TaskRun:
    """Queue a reap (or its dry run) over all experiments, or one experiment (id or name)."""
    hours = settings.MAINTENANCE_REAPER_THRESHOLD_HOURS if threshold_hours is None else threshold_hours
    if not isinstance(hours, int | float) or not 0.01 <= float(hours) <= 24 * 365:
        raise InvalidInput("Threshold must be between 0.01 and 8760 hours.")
    experiment_id = experiment_resolve(experiment.strip()).experiment_id if experiment.strip() else ""
    with transaction.atomic():
        run = task_run_create(
            kind=TaskKind.REAPER,
            parameters={"dry_run": bool(dry_run), "threshold_hours": float(hours), "experiment_id": experiment_id},
            actor=actor,
        )
        audit_record(
            actor=actor,
            action="reaper.start",
            target_kind="task",
            target_id=run.pk,
            after=run.parameters,
            reason="dry run" if dry_run else "reap stuck runs",
        )
        task_run_enqueue(run)
    return run


def reaper_run(run: TaskRun) -> None:
    """Handler: every RUNNING run whose last sign of life is older than the threshold (is_stuck, confirmed
    by judge) → terminated as FAILED at that last sign of life and tagged (unless a dry run)."""
    dry_run = bool(run.parameters.get("dry_run", True))
    hours = float(run.parameters.get("threshold_hours", settings.MAINTENANCE_REAPER_THRESHOLD_HOURS))
    cutoff_ms = stuck_cutoff_ms(hours)
    scoped = run.parameters.get("experiment_id") or ""
    experiments = [mlf.get_experiment(scoped)] if scoped else list(mlf.iter_experiments())
    names = {e.experiment_id: e.name for e in experiments}
    teams = all_teams()
    store_uri = readable_backend_store()
    # Collect first, change later: terminating runs while paging would shift the server's offsets.
    suspects: list[dict[str, Any]] = []
    alive: list[dict[str, Any]] = []
    ids = [e.experiment_id for e in experiments]
    query = stuck_query(cutoff_ms)
    seen = alive_count = 0
    for start in range(0, len(ids), 100):
        chunk = ids[start : start + 100]
        listed = mlf.iter_runs(chunk, filter_string=query, page_size=settings.MAINTENANCE_RUNS_PAGE_SIZE)
        for verdict in judge(listed, cutoff_ms, store_uri=store_uri):
            entry = _entry(verdict)
            if not verdict.stuck:
                alive_count += 1
                if len(alive) < REPORT_LIST_LIMIT:
                    alive.append(entry)
            else:
                suspects.append(entry)
            seen += 1
            if seen % 500 == 0:
                task_run_progress(run)  # heartbeat while listing
        task_run_progress(run, done=0, total=max(1, len(suspects)))
    counts = {"stuck": len(suspects), "reaped": 0, "changed": 0, "failed": 0, "alive": alive_count}
    reason = reap_reason(hours)
    if dry_run:
        _record_listed(run, suspects)  # the reviewed list "reap these now" reaps (maintenance/reap_listed.py)
    reaped: list[dict[str, Any]] = []
    if dry_run:
        for entry in suspects:
            entry["outcome"] = "would reap"
        reaped = suspects[:REPORT_LIST_LIMIT]
        task_run_progress(run, done=len(suspects), total=len(suspects), counts=counts)
    else:
        from maintenance.reap_chunk import reap_chunks_recorded  # it imports this module
        from maintenance.work_items import write_sources

        size = max(1, int(settings.MAINTENANCE_BULK_CHUNK))
        chunks = [suspects[start : start + size] for start in range(0, len(suspects), size)]
        reaped = suspects[:REPORT_LIST_LIMIT]  # the entries get their outcome as their chunk is recorded
        sources = write_sources()
        reap_chunks_recorded(chunks, cutoff_ms, reason, names, teams, run, counts=counts, sources=sources)
    task_run_finish(
        run,
        state=TaskState.SUCCEEDED,
        counts=counts,
        report={"dry_run": dry_run, "threshold_hours": hours, "reason": reason, "runs": reaped, "left_alone": alive},
    )


def reap_reason(hours: float) -> str:
    """Why a run is reaped (its reap_reason tag and audit reason), for a threshold of `hours`."""
    return (
        f"RUNNING with no sign of life for more than {hours:g} h "
        "(no metric, logged model, trace, start or resume since)"
    )


def _record_listed(run: TaskRun, suspects: list[dict[str, Any]]) -> None:
    """A dry run keeps every run it found stuck (not only the report's first REPORT_LIST_LIMIT)."""
    ReapItem.objects.bulk_create(
        [
            ReapItem(
                dry_run=run,
                run_id=entry["run_id"],
                experiment_id=entry["experiment_id"],
                run_name=(entry["run_name"] or "")[:256],
                started=entry["started"],
            )
            for entry in suspects
        ],
        batch_size=1000,
        ignore_conflicts=True,  # a resumed dry run lists them again
    )


def _entry(verdict: Verdict) -> dict[str, Any]:
    run, sign = verdict.run, verdict.sign
    return {
        "run_id": run.run_id,
        "experiment_id": run.experiment_id,
        "run_name": run.run_name,
        "started": fmt_ms(run.start_time),
        "last_metric": fmt_ms(run.last_metric_time),
        "last_sign_of_life": fmt_ms(sign.at_ms),
        "end_time_source": sign.source,
    }
