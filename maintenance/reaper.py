"""The stuck-run reaper: RUNNING runs with no end time, started before the threshold and with no metric
logged within it, are terminated as FAILED and tagged with when and why (or only listed, in a dry run)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.selectors import experiment_teams
from maintenance.models import TaskKind, TaskRun, TaskState
from maintenance.selectors import experiment_resolve
from maintenance.task_runs import (
    REPORT_LIST_LIMIT,
    actor_for,
    fmt_ms,
    now_ms,
    task_run_create,
    task_run_enqueue,
    task_run_finish,
    task_run_progress,
)
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.core.models import Team
from mlopsadmin.core.selectors import all_teams
from mlopsadmin.lib import mlflow_client as mlf

REAPED_AT_TAG = "mlopsadmin.reaped_at"
REAP_REASON_TAG = "mlopsadmin.reap_reason"


def stuck_cutoff_ms(hours: float | None = None) -> int:
    """The stuck-run cutoff (ms since the epoch): now minus `hours`, by default
    MAINTENANCE_REAPER_THRESHOLD_HOURS (the one stuck-run age; the weekly checklist uses it too)."""
    hours = settings.MAINTENANCE_REAPER_THRESHOLD_HOURS if hours is None else hours
    return now_ms() - int(float(hours) * 3_600_000)


def stuck_query(cutoff_ms: int) -> str:
    """The server-side filter for stuck-run suspects (RUNNING, started before the cutoff)."""
    return f"attributes.status = 'RUNNING' AND attributes.start_time < {cutoff_ms}"


def is_stuck(run: mlf.Run, cutoff_ms: int) -> bool:
    """The reaper's rule: RUNNING, no end time, started before the cutoff and no metric logged since it."""
    if run.status != "RUNNING" or run.end_time or (run.start_time or 0) >= cutoff_ms:
        return False
    return not (run.last_metric_time and run.last_metric_time >= cutoff_ms)


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
    """Handler: RUNNING, no end time, started before the threshold and no metric logged within it
    → terminated as FAILED and tagged with when and why (unless a dry run)."""
    dry_run = bool(run.parameters.get("dry_run", True))
    hours = float(run.parameters.get("threshold_hours", settings.MAINTENANCE_REAPER_THRESHOLD_HOURS))
    cutoff_ms = stuck_cutoff_ms(hours)
    scoped = run.parameters.get("experiment_id") or ""
    experiments = [mlf.get_experiment(scoped)] if scoped else list(mlf.iter_experiments())
    names = {e.experiment_id: e.name for e in experiments}
    teams = all_teams()
    # Collect first, change later: terminating runs while paging would shift the server's offsets.
    suspects: list[dict[str, Any]] = []
    alive: list[dict[str, Any]] = []
    ids = [e.experiment_id for e in experiments]
    query = stuck_query(cutoff_ms)
    seen = alive_count = 0
    for start in range(0, len(ids), 100):
        for mrun in mlf.iter_runs(
            ids[start : start + 100], filter_string=query, page_size=settings.MAINTENANCE_RUNS_PAGE_SIZE
        ):
            entry = {
                "run_id": mrun.run_id,
                "experiment_id": mrun.experiment_id,
                "run_name": mrun.run_name,
                "started": fmt_ms(mrun.start_time),
                "last_metric": fmt_ms(mrun.last_metric_time),
            }
            if not is_stuck(mrun, cutoff_ms):
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
    reason = f"RUNNING for more than {hours:g} h with no metric logged in that time"
    reaped: list[dict[str, Any]] = []
    for index, entry in enumerate(suspects, start=1):
        if not dry_run:
            outcome = _reap_one(entry, cutoff_ms, reason, names, teams, run)
            counts[outcome] += 1
            entry["outcome"] = outcome
        else:
            entry["outcome"] = "would reap"
        if len(reaped) < REPORT_LIST_LIMIT:
            reaped.append(entry)
        task_run_progress(run, done=index, total=len(suspects), counts=counts)
    task_run_finish(
        run,
        state=TaskState.SUCCEEDED,
        counts=counts,
        report={"dry_run": dry_run, "threshold_hours": hours, "reason": reason, "runs": reaped, "left_alone": alive},
    )


def _reap_one(
    entry: dict[str, Any], cutoff_ms: int, reason: str, names: dict[str, str], teams: list[Team], run: TaskRun
) -> str:
    try:
        fresh = mlf.get_run(entry["run_id"])
    except mlf.MlflowNotFound:
        return "changed"
    if not is_stuck(fresh, cutoff_ms):
        return "changed"  # it finished or logged something since we listed it
    now_iso = timezone.now().isoformat(timespec="seconds")
    try:
        mlf.set_terminated(fresh.run_id, status="FAILED")
        mlf.log_batch(fresh.run_id, tags={REAPED_AT_TAG: now_iso, REAP_REASON_TAG: reason})
    except mlf.MlflowUnavailable:
        raise
    except mlf.MlflowError as exc:
        entry["error"] = str(exc)[:200]
        return "failed"
    team = experiment_teams([(fresh.experiment_id, names.get(fresh.experiment_id, ""))], teams)[fresh.experiment_id]
    audit_record(
        actor=actor_for(run),
        action="run.reap",
        target_kind="run",
        target_id=fresh.run_id,
        team=team.name if team else "",
        before={"status": "RUNNING"},
        after={"status": "FAILED", REAPED_AT_TAG: now_iso},
        reason=reason,
    )
    return "reaped"
