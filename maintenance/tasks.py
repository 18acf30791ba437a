"""Celery tasks of maintenance: a thin interface over the feature modules.

One task runs any TaskRun record (by id) with the handler of its kind (HANDLERS); retries only for
transient MLflow errors; acks late so a worker killed mid-task gives the message back (the record's
heartbeat tells the story). The features enqueue by task name (task_runs.RUN_TASK_NAME) and never import
this module, so there is no import cycle."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from catalog.sync import catalog_sync_run
from maintenance import task_execute, task_runs
from maintenance.capacity.check import capacity_check_start, capacity_run
from maintenance.cleanup.execute import cleanup_failed, cleanup_plan_run
from maintenance.cleanup.plan import cleanup_plan_build
from maintenance.cleanup.restore import cleanup_restore_run_task
from maintenance.models import TaskKind, TaskRun
from maintenance.reap_listed import reaper_handler
from maintenance.reaper import reaper_start
from mlopsadmin.core.errors import Conflict
from mlopsadmin.lib.mlflow_client import MlflowUnavailable
from registry_ui.environments.queued import copy_task_run
from registry_ui.index_sync import registry_sync_run

logger = logging.getLogger(__name__)

HANDLERS: dict[str, task_execute.Handler] = {
    TaskKind.CLEANUP_PLAN: task_execute.Handler(run=cleanup_plan_build, failed=cleanup_failed),
    TaskKind.CLEANUP_EXECUTE: task_execute.Handler(run=cleanup_plan_run, failed=cleanup_failed),
    TaskKind.REAPER: task_execute.Handler(run=reaper_handler),  # the reaper, or the reap of a dry run's list
    TaskKind.CLEANUP_RESTORE: task_execute.Handler(run=cleanup_restore_run_task),
    TaskKind.CAPACITY: task_execute.Handler(run=capacity_run),
    TaskKind.CATALOG_SYNC: task_execute.Handler(run=catalog_sync_run),
    TaskKind.REGISTRY_SYNC: task_execute.Handler(run=registry_sync_run),
    TaskKind.ENVIRONMENT_COPY: task_execute.Handler(run=copy_task_run),  # a copy to the next environment
}


def task_run_execute(
    *, task_run_id: int, celery_task_id: str = "", can_retry: bool = False, heartbeat_seconds: float = 0
) -> str:
    """Run one TaskRun record with the handler of its kind (see task_execute.task_run_execute)."""
    return task_execute.task_run_execute(
        task_run_id=task_run_id,
        handlers=HANDLERS,
        celery_task_id=celery_task_id,
        can_retry=can_retry,
        heartbeat_seconds=heartbeat_seconds,
    )


def scheduled_start(*, kind: str, schedule_key: str) -> TaskRun | None:
    """What a beat entry starts; a task of the kind already active is not an error for a schedule."""
    actor = f"system:schedule.{schedule_key}"
    try:
        if kind == TaskKind.REAPER:
            return reaper_start(actor=actor, dry_run=False)
        return capacity_check_start(actor=actor)
    except Conflict as exc:
        logger.info("scheduled %s not started: %s", kind, exc)
        return None


@shared_task(
    bind=True,
    name=task_runs.RUN_TASK_NAME,
    acks_late=True,
    autoretry_for=(MlflowUnavailable,),
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=5,
)
def run_maintenance_task(self, *, task_run_id: int) -> str:  # type: ignore[no-untyped-def]
    return task_run_execute(
        task_run_id=task_run_id,
        celery_task_id=self.request.id or "",
        can_retry=self.request.retries < self.max_retries,
        heartbeat_seconds=settings.MAINTENANCE_HEARTBEAT_SECONDS,  # a thread beats while the task runs
    )


@shared_task(name="maintenance.tasks.sweep_lost_tasks_scheduled")
def sweep_lost_tasks_scheduled() -> int:
    """Beat: every minute (SCHEDULE_TASK_SWEEP). Running tasks whose heartbeat is older than
    MAINTENANCE_HEARTBEAT_STALE_SECONDS (their worker died) are marked interrupted, with an audit event; an
    interrupted cleanup can then be resumed. Returns how many were marked."""
    return task_runs.task_runs_sweep_stale()


@shared_task(name="maintenance.tasks.reap_stuck_runs_scheduled", acks_late=True)
def reap_stuck_runs_scheduled() -> int | None:
    """Beat: every hour (SCHEDULE_REAPER). Sweeps lost tasks, then starts a real (not dry) reap."""
    task_runs.task_runs_sweep_stale()
    run = scheduled_start(kind=TaskKind.REAPER, schedule_key="reaper")
    return run.pk if run else None


@shared_task(name="maintenance.tasks.capacity_check_scheduled", acks_late=True)
def capacity_check_scheduled() -> int | None:
    """Beat: every day (SCHEDULE_CAPACITY)."""
    task_runs.task_runs_sweep_stale()
    run = scheduled_start(kind=TaskKind.CAPACITY, schedule_key="capacity")
    return run.pk if run else None
