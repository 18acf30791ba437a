"""The beat schedule in code. Each entry's crontab can be overridden by an environment variable
holding five cron fields, e.g. SCHEDULE_REAPER="5 * * * *". `expires` stays just under the period so
a backlog never runs stale work twice."""

from __future__ import annotations

import os
from dataclasses import dataclass

from celery.schedules import crontab


@dataclass(frozen=True)
class ScheduleEntry:
    key: str
    task: str
    cron: str  # minute hour day-of-month month day-of-week
    expires_seconds: int
    description: str


ENTRIES: list[ScheduleEntry] = [
    ScheduleEntry(
        "reaper",
        "maintenance.tasks.reap_stuck_runs_scheduled",
        "5 * * * *",
        3300,
        "Stuck-run reaper: every hour at :05",
    ),
    ScheduleEntry(
        "capacity",
        "maintenance.tasks.capacity_check_scheduled",
        "30 2 * * *",
        23 * 3600,
        "Capacity check: every day at 02:30",
    ),
    ScheduleEntry(
        "catalog_sync",
        "catalog.tasks.catalog_sync_scheduled",
        "*/10 * * * *",
        540,
        "Experiment catalog sync: every 10 minutes",
    ),
    ScheduleEntry(
        "alias_reconcile",
        "registry_ui.tasks.alias_reconcile_scheduled",
        "*/15 * * * *",
        840,
        "Alias reconciliation (external changes): every 15 minutes",
    ),
    ScheduleEntry(
        "approvals_import",
        "registry_ui.tasks.approvals_import_scheduled",
        "20 * * * *",
        3300,
        "Import approvals recorded in MLflow tags (approved outside mlopsadmin): every hour at :20",
    ),
    ScheduleEntry(
        "latency_probe",
        "checklists.tasks.latency_probe_scheduled",
        "*/5 * * * *",
        270,
        "Tracking server latency sample: every 5 minutes",
    ),
    ScheduleEntry(
        "checklist_instances",
        "checklists.tasks.checklist_instances_scheduled",
        "0 6 * * *",
        23 * 3600,
        "Weekly/monthly checklist instances: every day at 06:00",
    ),
    ScheduleEntry(
        "mlflow_permissions",
        "mlopsadmin.accounts.tasks.sync_mlflow_permissions_scheduled",
        "off",
        3300,
        'MLflow permissions kept in step: off unless SCHEDULE_MLFLOW_PERMISSIONS is set (e.g. "20 * * * *")',
    ),
    ScheduleEntry(
        "notifications_requeue",
        "notifications.tasks.notifications_requeue_scheduled",
        "*/10 * * * *",
        540,
        "Notifications left pending by a broker outage: every 10 minutes",
    ),
]


def stored_overrides() -> dict[str, str]:
    """Cron overrides kept by apply_config (configuration.ConfigSetting 'schedule:<key>'); {} when the
    database cannot be read yet (beat computes its schedule again once Django is set up)."""
    try:
        from configuration.selectors import schedule_overrides

        return schedule_overrides()
    except Exception:  # noqa: BLE001 - apps not loaded or database not migrated: code defaults
        return {}


def entry_cron(entry: ScheduleEntry, overrides: dict[str, str] | None = None) -> str:
    """The effective cron of one entry: SCHEDULE_<KEY> from the environment, else the configuration's
    override, else the code default."""
    env = os.environ.get(f"SCHEDULE_{entry.key.upper()}")
    if env:
        return env
    overrides = stored_overrides() if overrides is None else overrides
    return overrides.get(entry.key, entry.cron)


def cron_to_crontab(cron: str) -> crontab:
    minute, hour, day_of_month, month_of_year, day_of_week = cron.split()
    return crontab(
        minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week
    )


def beat_schedule() -> dict[str, dict[str, object]]:
    overrides = stored_overrides()
    crons = {entry.key: entry_cron(entry, overrides) for entry in ENTRIES}
    return {
        entry.key: {
            "task": entry.task,
            "schedule": cron_to_crontab(crons[entry.key]),
            "options": {"expires": entry.expires_seconds},
        }
        for entry in ENTRIES
        if crons[entry.key].strip().lower() != "off"
    }
