"""Celery tasks of the checklists feature: thin wrappers around the services."""

from __future__ import annotations

import logging

from celery import shared_task

from checklists import selectors, services
from mlopsadmin.lib.mlflow_client import MlflowUnavailable
from notifications import events as notification_events

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, autoretry_for=(MlflowUnavailable,), retry_backoff=True, max_retries=3)
def latency_probe_scheduled() -> dict[str, object]:
    """Every 5 minutes: time a few MLflow API calls and store the samples."""
    samples = services.latency_sample_record(rounds=1)
    pruned = services.latency_samples_prune()
    logger.info("latency probe: %d samples, %d old samples pruned", len(samples), pruned)
    return {"samples": len(samples), "pruned": pruned}


@shared_task(acks_late=True, autoretry_for=(MlflowUnavailable,), retry_backoff=True, max_retries=3)
def checklist_instances_scheduled() -> dict[str, object]:
    """Daily: create this week's/month's/initial instances if missing, then re-run their probes."""
    instances = services.instances_ensure()
    changed = 0
    for instance in instances:
        if not instance.is_signed:
            changed += len(services.instance_probe_run(instance_id=instance.pk))
    notification_events.checklists_overdue(selectors.overdue_instances())
    logger.info(
        "checklist instances: %s; %d probe results changed",
        ", ".join(f"{i.kind} {i.period_label}" for i in instances),
        changed,
    )
    return {"instances": [i.pk for i in instances], "changed": changed}
