"""Celery tasks of the catalog: the beat entry that starts a catalog sync. The sync itself runs as a
maintenance TaskRun (maintenance.tasks.run_maintenance_task with catalog.sync.catalog_sync_run)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from catalog.sync import catalog_sync_start
from mlopsadmin.core.errors import Conflict


@shared_task(name="catalog.tasks.catalog_sync_scheduled", acks_late=True)
def catalog_sync_scheduled() -> dict[str, Any]:
    """Every 10 minutes (see mlopsadmin/schedules.py): incremental, with a periodic full rescan."""
    try:
        return {"task_run": catalog_sync_start(actor="system:schedule.catalog_sync").pk}
    except Conflict as exc:  # a sync is already queued or running
        return {"skipped": str(exc)}
