"""Celery tasks of the catalog: a thin interface over `catalog.services.catalog_sync`."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.contrib.auth import get_user_model

from catalog.services import catalog_sync
from mlopsadmin.core.errors import Conflict
from mlopsadmin.lib.mlflow_client import MlflowUnavailable


@shared_task(
    name="catalog.tasks.catalog_sync_scheduled",
    autoretry_for=(MlflowUnavailable,),
    retry_backoff=True,
    max_retries=3,
    acks_late=True,
)
def catalog_sync_scheduled() -> dict[str, Any]:
    """Every 10 minutes (see mlopsadmin/schedules.py): incremental, with a periodic full rescan."""
    try:
        return catalog_sync(actor="system:catalog_sync").summary()
    except Conflict as exc:  # another sync holds the claim
        return {"skipped": str(exc)}


@shared_task(
    name="catalog.tasks.catalog_sync_now",
    autoretry_for=(MlflowUnavailable,),
    retry_backoff=True,
    max_retries=3,
    acks_late=True,
)
def catalog_sync_now(*, user_id: int | None = None, full: bool = False) -> dict[str, Any]:
    """The page's "sync now" button."""
    actor = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        return catalog_sync(actor=actor, full=full).summary()
    except Conflict as exc:
        return {"skipped": str(exc)}
