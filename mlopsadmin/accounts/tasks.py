"""Celery task: the scheduled MLflow permission sync (beat entry `mlflow_permissions`, off by default)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from mlopsadmin.lib.mlflow_client import MlflowUnavailable


@shared_task(
    name="mlopsadmin.accounts.tasks.sync_mlflow_permissions_scheduled",
    acks_late=True,
    autoretry_for=(MlflowUnavailable,),
    retry_backoff=True,
    max_retries=3,
)
def sync_mlflow_permissions_scheduled() -> dict[str, object]:
    """Apply the MLflow permission plan as `system:schedule.mlflow_permissions` (audited when anything changed)."""
    from mlopsadmin.accounts.mlflow_permissions import apply_plan

    result = apply_plan(
        actor="system:schedule.mlflow_permissions", create_users=settings.MLFLOW_PERMISSIONS_CREATE_USERS
    )
    return {
        "applied": len(result.applied),
        "failed": len(result.failed),
        "created_users": result.created_users,
        "remaining": len(result.remaining.changes),
    }
