"""Celery tasks of maintenance: a thin interface over maintenance.services.

One task runs any TaskRun record (by id); retries only for transient MLflow errors; acks late so a
worker killed mid-task gives the message back (the record's heartbeat tells the story)."""

from __future__ import annotations

from celery import shared_task

from maintenance import services
from maintenance.models import TaskKind
from mlopsadmin.lib.mlflow_client import MlflowUnavailable


@shared_task(
    bind=True,
    name="maintenance.tasks.run_maintenance_task",
    acks_late=True,
    autoretry_for=(MlflowUnavailable,),
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=5,
)
def run_maintenance_task(self, *, task_run_id: int) -> str:  # type: ignore[no-untyped-def]
    return services.task_run_execute(
        task_run_id=task_run_id, celery_task_id=self.request.id or "", can_retry=self.request.retries < self.max_retries
    )


@shared_task(name="maintenance.tasks.reap_stuck_runs_scheduled", acks_late=True)
def reap_stuck_runs_scheduled() -> int | None:
    """Beat: every hour (SCHEDULE_REAPER). Sweeps lost tasks, then starts a real (not dry) reap."""
    services.task_runs_sweep_stale()
    run = services.scheduled_start(kind=TaskKind.REAPER, schedule_key="reaper")
    return run.pk if run else None


@shared_task(name="maintenance.tasks.capacity_check_scheduled", acks_late=True)
def capacity_check_scheduled() -> int | None:
    """Beat: every day (SCHEDULE_CAPACITY)."""
    services.task_runs_sweep_stale()
    run = services.scheduled_start(kind=TaskKind.CAPACITY, schedule_key="capacity")
    return run.pk if run else None
