"""Reads of maintenance: task runs, plans, capacity samples, schedules, home tiles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from maintenance.models import (
    ACTIVE_STATES,
    CapacitySample,
    CleanupPlan,
    PlanItem,
    TaskKind,
    TaskRun,
)
from mlopsadmin.core.charts import LineChart, line_chart
from mlopsadmin.core.errors import NotFound
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.schedules import ENTRIES, cron_to_crontab, entry_cron


def last_task_run(*, kind: str, state: str = "succeeded") -> TaskRun | None:
    """The most recently finished task of a kind in a state (fields finished_at, counts, report)."""
    return TaskRun.objects.filter(kind=kind, state=state).order_by("-finished_at", "-id").first()


def latest_capacity_totals() -> dict[str, Any] | None:
    """Latest capacity check totals: artifact_bytes and database_bytes (None: unknown, never 0), measured_at,
    level (ok/warning/critical/unknown), warning, critical, unknown, messages; measured_bytes and
    unknown_locations (locations not measured) of an incomplete artifact sum; deleted_bytes /
    deleted_experiments of soft-deleted experiments awaiting purge (included in artifact_bytes); stale when
    the measurement is older than MAINTENANCE_CAPACITY_STALE_HOURS (no check succeeded since: unknown, with a
    message saying how old it is, never shown as the current state)."""
    sample = CapacitySample.objects.filter(scope="total").order_by("-measured_at", "-id").first()
    if sample is None:
        return None
    detail = sample.detail or {}
    age_hours = (timezone.now() - sample.measured_at).total_seconds() / 3600
    stale = age_hours > settings.MAINTENANCE_CAPACITY_STALE_HOURS
    messages = list(detail.get("messages", []))
    if stale:
        messages.insert(
            0,
            f"last measured {sample.measured_at:%Y-%m-%d %H:%M} UTC, {age_hours:.0f} h ago: no capacity check has "
            f"succeeded since (more than {settings.MAINTENANCE_CAPACITY_STALE_HOURS:g} h), the figures may be out "
            "of date",
        )
    return {
        "stale": stale,
        "artifact_bytes": sample.size_bytes,
        "database_bytes": detail.get("database_bytes"),
        "measured_at": sample.measured_at,
        "warning": bool(detail.get("warning")),
        "critical": bool(detail.get("critical")),
        "level": detail.get("level", "ok"),
        "unknown": stale
        or sample.size_bytes is None
        or detail.get("database_bytes") is None
        or bool(detail.get("unknown")),
        "messages": messages,
        "measured_bytes": detail.get("measured_bytes"),
        "unknown_locations": int(detail.get("unknown_experiments", 0)) + int(detail.get("failed_experiments", 0)),
        "deleted_bytes": detail.get("deleted_bytes"),
        "deleted_experiments": int(detail.get("deleted_experiments", 0)),
    }


MAX_ID = 2**63 - 1


def task_run_get(*, task_run_id: int) -> TaskRun | None:
    if not 0 < task_run_id <= MAX_ID:
        return None
    return TaskRun.objects.filter(pk=task_run_id).first()


def active_task_runs() -> list[TaskRun]:
    return list(TaskRun.objects.filter(state__in=ACTIVE_STATES).order_by("created_at"))


def task_run_history(*, kind: str = "", state: str = "") -> QuerySet[TaskRun]:
    runs = TaskRun.objects.all()
    if kind:
        runs = runs.filter(kind=kind)
    if state:
        runs = runs.filter(state=state)
    return runs.order_by("-created_at", "-id")


def plan_for_task(run: TaskRun) -> CleanupPlan | None:
    plan_id = (run.parameters or {}).get("plan_id")
    return CleanupPlan.objects.filter(pk=plan_id).first() if plan_id else None


def plan_restore_task(plan: CleanupPlan) -> TaskRun | None:
    """The newest "restore all" task of a plan, if any (maintenance/cleanup/restore.py)."""
    return (
        TaskRun.objects.filter(kind=TaskKind.CLEANUP_RESTORE, parameters__plan_id=plan.pk)
        .order_by("-created_at", "-id")
        .first()
    )


def plan_get(*, plan_id: int) -> CleanupPlan | None:
    if not 0 < plan_id <= MAX_ID:
        return None
    return CleanupPlan.objects.select_related("plan_task", "execute_task").filter(pk=plan_id).first()


def recent_plans(limit: int = 10) -> list[CleanupPlan]:
    return list(CleanupPlan.objects.order_by("-created_at", "-id")[:limit])


def plan_items(*, plan: CleanupPlan, excluded: bool, outcome: str = "") -> QuerySet[PlanItem]:
    items = plan.items.filter(excluded=excluded)
    if outcome:
        items = items.filter(outcome=outcome)
    return items.order_by("id")


def plan_is_expired(plan: CleanupPlan) -> bool:
    from django.conf import settings

    if not plan.planned_at:
        return False
    return timezone.now() - plan.planned_at > timedelta(hours=settings.MAINTENANCE_PLAN_MAX_AGE_HOURS)


def capacity_latest(*, scope: str) -> list[CapacitySample]:
    """The newest check's samples of one scope (experiment/team/store/database)."""
    last = CapacitySample.objects.filter(scope="total").order_by("-measured_at", "-id").first()
    if last is None:
        return []
    return list(CapacitySample.objects.filter(scope=scope, task_run_id=last.task_run_id).order_by("-size_bytes", "key"))


def capacity_series(*, scope: str, limit: int = 60) -> dict[str, list[tuple[datetime, int | None]]]:
    """Growth per key of a scope (store/team/database/total): [(measured_at, bytes)] oldest first, the last
    `limit` samples of each; bytes None where the check could not measure (a gap in the chart, never 0)."""
    series: dict[str, list[tuple[datetime, int | None]]] = {}
    samples = (
        CapacitySample.objects.filter(scope=scope)
        .order_by("-measured_at")
        .values_list("label", "measured_at", "size_bytes")[: limit * 50]
    )
    for label, measured_at, size in samples:
        points = series.setdefault(label or "(none)", [])
        if len(points) < limit:
            points.append((measured_at, None if size is None else int(size)))
    return {label: list(reversed(points)) for label, points in sorted(series.items())}


PALETTE_SIZE = 8  # CSS classes series-0 … series-7


def capacity_chart(*, scope: str, title: str) -> LineChart:
    """The growth chart of one scope: a line per key over time, a byte axis, unknown samples as gaps."""
    series = [
        (label, f"series-{index % PALETTE_SIZE}", points)
        for index, (label, points) in enumerate(capacity_series(scope=scope).items())
    ]
    return line_chart(series, x_kind="time", y_kind="bytes", x_label="measured (UTC)", title=title)


@dataclass(frozen=True)
class ScheduleRow:
    key: str
    task: str
    cron: str
    description: str
    last_run: TaskRun | None
    next_run: datetime | None


SCHEDULE_KINDS = {"reaper": TaskKind.REAPER, "capacity": TaskKind.CAPACITY, "catalog_sync": TaskKind.CATALOG_SYNC}


def schedules_overview(*, now: datetime | None = None) -> list[ScheduleRow]:
    """Every beat entry: its (possibly overridden) crontab, last run (from TaskRun) and next run."""
    now = now or timezone.now()
    rows = []
    for entry in ENTRIES:
        cron = entry_cron(entry)
        next_run = None
        if cron.strip().lower() != "off":
            try:
                schedule = cron_to_crontab(cron)
                upcoming = now + schedule.remaining_estimate(now) + timedelta(seconds=1)
                next_run = upcoming.replace(second=0, microsecond=0)
            except (ValueError, TypeError):
                next_run = None
        kind = SCHEDULE_KINDS.get(entry.key)
        last = (
            TaskRun.objects.filter(kind=kind, started_by=f"system:schedule.{entry.key}").order_by("-created_at").first()
            if kind
            else None
        )
        rows.append(ScheduleRow(entry.key, entry.task, cron, entry.description, last, next_run))
    return rows


def stuck_runs_last_seen() -> int | None:
    """Stuck runs found by the latest reaper (dry or real); None if it never ran."""
    run = last_task_run(kind=TaskKind.REAPER)
    if run is None:
        return None
    counts = run.counts or {}
    if (run.report or {}).get("dry_run"):
        return int(counts.get("stuck", 0))
    return int(counts.get("stuck", 0)) - int(counts.get("reaped", 0))


def experiment_resolve(value: str) -> mlf.Experiment:
    """The active experiment named by `value` (an id, else a name), as cleanup scopes and the reaper take
    it. Raises NotFound when there is none (unknown or deleted)."""
    experiment = None
    if value.isdigit():
        try:
            experiment = mlf.get_experiment(value)
        except (mlf.MlflowNotFound, mlf.MlflowInvalid):
            experiment = None
    if experiment is None:
        try:
            experiment = mlf.get_experiment_by_name(value)
        except mlf.MlflowInvalid:
            experiment = None
    if experiment is None or experiment.is_deleted:
        raise NotFound(f"No active experiment '{value}'.")
    return experiment
