"""Celery tasks of the registry: thin interfaces to the services."""

from __future__ import annotations

from celery import shared_task

from mlopsadmin.lib.mlflow_client import MlflowUnavailable


@shared_task(
    bind=True,
    name="registry_ui.tasks.alias_reconcile_scheduled",
    acks_late=True,
    autoretry_for=(MlflowUnavailable,),
    retry_backoff=True,
    max_retries=3,
)
def alias_reconcile_scheduled(  # type: ignore[no-untyped-def]
    self, model_name: str | None = None, hint: list[str | None] | None = None
) -> dict[str, object]:
    """Record alias changes made directly in MLflow (all models, or one: after an unknown outcome, or what
    an MLflow webhook reported, `hint` = [alias, version or None]). One model whose lock is held is tried
    again shortly, so a hint is not lost to a running promotion."""
    from registry_ui.promotion.services import alias_reconcile

    alias, version = hint if hint and len(hint) == 2 else (None, None)
    report = alias_reconcile(model_name=model_name, hint=(str(alias), version) if alias else None)
    if model_name is not None and report.skipped and self.request.retries < self.max_retries:
        raise self.retry(countdown=10)
    return {"models_checked": report.models_checked, "changes": report.changes, "skipped": report.skipped}


@shared_task(
    name="registry_ui.tasks.approvals_import_scheduled",
    acks_late=True,
    autoretry_for=(MlflowUnavailable,),
    retry_backoff=True,
    max_retries=3,
)
def approvals_import_scheduled(model_name: str | None = None) -> dict[str, object]:
    """Import approvals found in MLflow version tags (approved outside mlopsadmin), audited per version."""
    from registry_ui.approvals.imports import approvals_import

    report = approvals_import(model_name=model_name)
    return {"versions_read": report.versions_read, "imported": report.imported, "updated": report.updated}


@shared_task(name="registry_ui.tasks.registry_sync_scheduled", acks_late=True)
def registry_sync_scheduled() -> dict[str, object]:
    """Every 5 minutes (mlopsadmin/schedules.py): queue a registry index sync (incremental, full once an
    hour); the sync itself runs as a maintenance TaskRun."""
    from mlopsadmin.core.errors import Conflict
    from registry_ui.index_sync import registry_sync_start

    try:
        return {"task_run": registry_sync_start(actor="system:schedule.registry_sync").pk}
    except Conflict as exc:  # a sync is already queued or running
        return {"skipped": str(exc)}
