"""The registry sync: the local index of models, versions and their source runs brought in step with
MLflow, so the registry pages never wait for MLflow. It runs as a maintenance TaskRun (kind registry_sync),
like the catalog sync: started by the schedule, "Sync now", `manage.py registry_sync` or the API.

What one sync reads (MLflow has no change feed for the registry):
- every registered model (one call per 1,000): aliases, model tags, description, `last_updated_timestamp`;
  models gone from the listing leave the index with their versions;
- all versions of the models whose `last_updated_timestamp` moved (MLflow moves it when a version is
  created or deleted), that are new, or whose versions were never read — `name IN (...)`, 50 per call;
- the versions updated since the last sync (newest first, stopping at the watermark): descriptions and
  other edits that do not move the model's timestamp;
- the source runs of versions not indexed yet (`run_id IN (...)`, 100 per call).
A full sync (forced, or when the last one is older than REGISTRY_FULL_SYNC_SECONDS) re-reads every version
and every source run: version tags set outside mlopsadmin move no timestamp in MLflow, nor do run
deletions, so only a full sync (or an MLflow webhook, where configured) brings those in.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from maintenance.models import TaskKind, TaskRun, TaskState
from maintenance.task_execute import task_run_here
from maintenance.task_runs import (
    actor_for,
    task_run_create,
    task_run_enqueue,
    task_run_finish,
    task_run_progress,
)
from mlopsadmin.audit.services import audit_record
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import index_store
from registry_ui.models import RegistryIndexState

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:registry_sync"
WATERMARK_MARGIN_MS = 5 * 60 * 1000  # versions updated this long before the last sync are read again
UPDATED_PAGE_SIZE = 200  # the "updated since" scan reads this many versions per call, newest first


@dataclass
class SyncResult:
    mode: str
    models: int = 0
    new_models: list[str] = field(default_factory=list)
    deleted_models: list[str] = field(default_factory=list)
    models_read: int = 0
    versions: int = 0
    versions_changed: int = 0
    versions_deleted: int = 0
    runs: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "models": self.models,
            "new_models": len(self.new_models),
            "deleted_models": len(self.deleted_models),
            "models_read": self.models_read,
            "versions": self.versions,
            "versions_changed": self.versions_changed,
            "versions_deleted": self.versions_deleted,
            "runs": self.runs,
            "seconds": round(self.seconds, 2),
        }


def index_state() -> RegistryIndexState:
    """The index's freshness row (created on first use)."""
    state, _ = RegistryIndexState.objects.get_or_create(pk=1)
    return state


def registry_sync_start(*, actor: Any, full: bool | None = None) -> TaskRun:
    """Queue a registry sync (TaskRun kind registry_sync) for a worker: "Sync now", the schedule, the API.
    `full` None lets the sync decide (full when the last full one is older than REGISTRY_FULL_SYNC_SECONDS).
    Raises Conflict when one is already queued or running."""
    with transaction.atomic():
        run = task_run_create(kind=TaskKind.REGISTRY_SYNC, parameters={"full": full}, actor=actor)
        task_run_enqueue(run)
    return run


def registry_sync(*, actor: Any = None, full: bool | None = None) -> SyncResult:
    """Sync now, in this process (tests, bench, a shell): the same TaskRun record a worker writes. Raises
    Conflict when a sync is already queued or running; MlflowError when MLflow fails (the record is then
    failed)."""
    parameters = {"full": full}
    return task_run_here(
        kind=TaskKind.REGISTRY_SYNC, parameters=parameters, actor=actor or SYSTEM_ACTOR, handler=registry_sync_run
    )


def registry_sync_run(run: TaskRun) -> SyncResult:
    """Handler (maintenance.tasks.HANDLERS): bring the index in step with MLflow (module docstring)."""
    state = index_state()
    full = run.parameters.get("full")
    if full is None:
        full = state.last_full_sync_at is None or (timezone.now() - state.last_full_sync_at) > timedelta(
            seconds=settings.REGISTRY_FULL_SYNC_SECONDS
        )
    result = SyncResult("full" if full else "incremental")
    started, clock = timezone.now(), time.perf_counter()
    task_run_progress(run, report={"mode": result.mode, "message": "Listing registered models…"})
    watermark = _sync(result, full=bool(full), since_ms=state.watermark_ms, run=run)
    result.seconds = time.perf_counter() - clock
    RegistryIndexState.objects.filter(pk=1).update(
        last_sync_started_at=started,
        models_listed_at=started,
        watermark_ms=max(watermark, state.watermark_ms or 0) or None,
        **({"last_full_sync_at": started} if full else {}),
    )
    task_run_finish(
        run,
        state=TaskState.SUCCEEDED,
        counts=result.summary(),
        report={"mode": result.mode, "message": describe(result), "seconds": round(result.seconds, 2)},
    )
    if run.started_by_user_id:
        audit_record(
            actor=actor_for(run),
            action="registry.sync",
            target_kind="task",
            target_id="registry_sync",
            after=result.summary(),
        )
    logger.info("registry sync %s", result.summary())
    return result


def describe(result: SyncResult) -> str:
    return (
        f"{result.mode} sync: {result.models} models ({len(result.new_models)} new, "
        f"{len(result.deleted_models)} deleted); read the versions of {result.models_read} models "
        f"({result.versions_changed} new or changed, {result.versions_deleted} deleted) and {result.runs} runs "
        f"in {result.seconds:.1f} s"
    )


def _sync(result: SyncResult, *, full: bool, since_ms: int | None, run: TaskRun) -> int:
    """One pass (module docstring); returns the newest `last_updated_timestamp` seen (the next watermark)."""
    now = timezone.now()
    listing = {m.name: m for m in mlf.iter_registered_models()}
    result.models = len(listing)
    result.new_models, result.deleted_models, stale = index_store.models_store(listing, now)
    watermark = max((m.last_updated_timestamp or 0 for m in listing.values()), default=0)
    if full:
        stale = set(listing)
    elif since_ms is not None:  # versions edited since the last sync, in models whose timestamp did not move
        read_at = timezone.now()
        updated, newest = _updated_since(since_ms - WATERMARK_MARGIN_MS)
        watermark = max(watermark, newest)
        edited: dict[str, list[mlf.ModelVersion]] = {}
        for version in updated:
            if version.name in listing and version.name not in stale:
                edited.setdefault(version.name, []).append(version)
        counts = index_store.versions_store(edited, complete=False, read_at=read_at)
        result.versions_changed += counts["changed"]
        result.runs += index_store.runs_read(counts["run_ids"])  # type: ignore[arg-type]
    task_run_progress(run, total=len(stale), report={"mode": result.mode, "message": f"Reading {len(stale)} models…"})
    counts = index_store.versions_refresh(stale, full=full)
    if full:
        index_store.runs_prune()
    result.models_read = len(stale)
    result.versions = counts["versions"]
    result.versions_changed += counts["changed"]
    result.versions_deleted, result.runs = counts["deleted"], result.runs + counts["runs"]
    return watermark


def _updated_since(since_ms: int) -> tuple[list[mlf.ModelVersion], int]:
    """The versions updated at or after `since_ms` (newest first, stopping at the first older one), and the
    newest timestamp seen."""
    found: list[mlf.ModelVersion] = []
    newest = 0
    for version in mlf.iter_model_versions(order_by=["last_updated_timestamp DESC"], page_size=UPDATED_PAGE_SIZE):
        stamp = version.last_updated_timestamp or 0
        newest = max(newest, stamp)
        if stamp < since_ms:
            break
        found.append(version)
    return found, newest
