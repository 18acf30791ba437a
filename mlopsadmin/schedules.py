"""The beat schedule in code. Each entry's crontab can be overridden by an environment variable
holding five cron fields, e.g. SCHEDULE_REAPER="5 * * * *". `expires` stays just under the period so
a backlog never runs stale work twice."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
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
        "task_sweep",
        "maintenance.tasks.sweep_lost_tasks_scheduled",
        "* * * * *",
        55,
        "Maintenance tasks whose worker died (no heartbeat) marked interrupted: every minute",
    ),
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
        "registry_sync",
        "registry_ui.tasks.registry_sync_scheduled",
        "*/5 * * * *",
        270,
        "Registry index sync (models, versions, source runs; full once an hour): every 5 minutes",
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
    """Five cron fields as Celery's crontab. Raises ValueError (Celery's own ParseException, e.g. for a
    negative number, too), TypeError or KeyError when they are not. Celery is imported here, not at the
    top: pages and commands read ENTRIES without loading Celery."""
    from celery.schedules import ParseException, crontab

    minute, hour, day_of_month, month_of_year, day_of_week = cron.split()
    try:
        return crontab(
            minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week
        )
    except ParseException as exc:
        raise ValueError(f"{cron!r}: {exc}") from None


# (lowest, highest) of each field as Celery's crontab_parser has them: minute, hour, day of month, month, day
# of week (0 = Sunday).
_CRON_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_PLAIN_PART = re.compile(r"(?:\*|(?P<first>[0-9]+)(?:-(?P<last>[0-9]+))?)(?:/(?P<step>[0-9]+))?")


def _plain_part(part: str, low: int, high: int) -> bool:
    """`*`, `*/s`, `n`, `a-b`, `a-b/s` with numbers in range (a ≤ b, s ≥ 1): forms Celery accepts."""
    match = _PLAIN_PART.fullmatch(part)
    if match is None:
        return False
    first, last, step = match.group("first", "last", "step")
    if step is not None and (int(step) < 1 or (first is not None and last is None)):
        return False  # Celery refuses a zero step and `n/s`
    if first is None:
        return True
    return low <= int(first) <= int(last if last is not None else first) <= high


def _first_day(day_of_month: str) -> int:
    """The lowest day a plain day-of-month field names (`*` and `*/s` start at 1)."""
    firsts = []
    for part in day_of_month.split(","):
        match = _PLAIN_PART.fullmatch(part)
        firsts.append(int(match["first"]) if match and match["first"] else 1)
    return min(firsts)


def cron_valid(cron: str) -> bool:
    """Whether `cron` is five cron fields Celery's beat accepts. Plain numeric forms are checked here;
    any other (names such as `mon-fri`, wrapping ranges) by Celery's own parser, imported only then, so
    checking a configuration file with the usual schedules does not load Celery."""
    fields = cron.split()
    if (
        len(fields) == 5
        and all(
            _plain_part(part, low, high)
            for field, (low, high) in zip(fields, _CRON_FIELDS, strict=True)
            for part in field.split(",")
        )
        and _first_day(fields[2]) <= 29  # a day every month has (Celery refuses e.g. day 31 in month 2 or 4)
    ):
        return True
    try:
        cron_to_crontab(cron)
    except (ValueError, TypeError, KeyError):
        return False
    return True


def environment_problems() -> list[str]:
    """One sentence per SCHEDULE_<KEY> environment variable that is neither `off` nor five cron fields beat
    accepts (checked by `cron_valid`), naming the variable and its value; [] when all are usable."""
    problems = []
    for entry in ENTRIES:
        variable = f"SCHEDULE_{entry.key.upper()}"
        value = os.environ.get(variable)
        if value and value.strip().lower() != "off" and not cron_valid(value):
            problems.append(f'{variable}={value!r} is not five cron fields beat accepts (e.g. "5 * * * *" or off)')
    return problems


def beat_schedule() -> dict[str, dict[str, object]]:
    """Celery beat's schedule: every entry with its effective cron (see `entry_cron`), entries set to `off`
    left out. Raises ImproperlyConfigured naming the variable when a SCHEDULE_<KEY> value is unusable."""
    problems = environment_problems()
    if problems:
        raise ImproperlyConfigured("; ".join(problems))
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
