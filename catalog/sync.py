"""The catalog sync: the local experiment index brought in step with MLflow. It runs as a maintenance
TaskRun (kind catalog_sync): one job-progress model for every background job (state, progress, heartbeat,
at most one active per kind)."""

from __future__ import annotations

import hashlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import CatalogExperiment
from catalog.selectors import sync_status
from catalog.services import catalog_evaluate, experiment_scan_runs, store_scan
from maintenance.models import ItemOutcome, PlanItem, TaskKind, TaskRun, TaskState
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

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:catalog_sync"


@dataclass
class SyncResult:
    mode: str
    experiments: int = 0
    new: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str, str]] = field(default_factory=list)  # id, old, new
    deleted: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    scanned: int = 0
    runs: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "experiments": self.experiments,
            "new": len(self.new),
            "renamed": len(self.renamed),
            "deleted": len(self.deleted),
            "restored": len(self.restored),
            "scanned": self.scanned,
            "runs": self.runs,
            "seconds": round(self.seconds, 2),
        }


def catalog_sync_start(*, actor: Any, full: bool | None = None) -> TaskRun:
    """Queue a catalog sync as a TaskRun (kind catalog_sync) for a worker; what "Sync now" and the beat
    entry call. `full`: None lets the sync decide (a full rescan when the last one is older than
    CATALOG_FULL_RESCAN_SECONDS). Raises Conflict when a sync is already queued or running."""
    with transaction.atomic():
        run = task_run_create(kind=TaskKind.CATALOG_SYNC, parameters={"full": full}, actor=actor)
        task_run_enqueue(run)
    return run


def catalog_sync(*, actor: Any = None, full: bool | None = None) -> SyncResult:
    """Sync now, in this process (tests, bench, a shell): the same TaskRun record a worker would write.
    Raises Conflict when a sync is already queued or running; MlflowError when MLflow fails (the record
    is then failed)."""
    parameters = {"full": full}
    return task_run_here(
        kind=TaskKind.CATALOG_SYNC, parameters=parameters, actor=actor or SYSTEM_ACTOR, handler=catalog_sync_run
    )


def catalog_sync_run(run: TaskRun) -> SyncResult:
    """Handler (maintenance.tasks.HANDLERS): bring the local index in step with MLflow.

    Lists all experiments (deleted included; cheap), detects new / renamed / deleted / restored ones,
    and scans the runs of those that need it: new ones, ones whose `last_update_time` moved, ones with
    runs started or ended since the last successful sync, ones whose number of soft-deleted runs changed
    (run deletions and restores made anywhere), ones the product's cleanup deleted runs from since the last
    successful sync, never-scanned ones — or all of them on a full
    scan (forced, or when the last full scan is older than CATALOG_FULL_RESCAN_SECONDS). Progress,
    counts and the outcome are the TaskRun's.
    """
    status = sync_status()
    full = run.parameters.get("full")
    if full is None:
        full = (
            status.last_full_scan_at is None
            or (timezone.now() - status.last_full_scan_at).total_seconds() > settings.CATALOG_FULL_RESCAN_SECONDS
        )
    mode = "full" if full else "incremental"
    progress = _Progress(run, mode)
    progress(message="Listing experiments…")
    started = time.perf_counter()
    result = _sync(mode, full=full, since=status.last_success_started_at, progress=progress)
    result.seconds = time.perf_counter() - started
    task_run_finish(
        run,
        state=TaskState.SUCCEEDED,
        counts=result.summary(),
        report={"mode": mode, "message": _describe(result), "seconds": round(result.seconds, 2)},
    )
    if run.started_by_user_id:
        audit_record(
            actor=actor_for(run),
            action="catalog.sync",
            target_kind="task",
            target_id="catalog_sync",
            after=result.summary(),
        )
    logger.info("catalog sync %s", result.summary())
    return result


class _Progress:
    """Progress of one sync on its TaskRun (and the worker's heartbeat); raises TaskLost if swept."""

    def __init__(self, run: TaskRun, mode: str) -> None:
        self.run, self.mode = run, mode

    def __call__(
        self, *, done: int | None = None, total: int | None = None, runs: int | None = None, message: str = ""
    ) -> None:
        counts = {**(self.run.counts or {}), **({"runs": runs} if runs is not None else {})}
        report = {"mode": self.mode, "message": message or (self.run.report or {}).get("message", "")}
        task_run_progress(self.run, done=done, total=total, counts=counts, report=report)


def _describe(result: SyncResult) -> str:
    return (
        f"{result.mode} sync: {result.experiments} experiments, {result.new and len(result.new) or 0} new, "
        f"{len(result.renamed)} renamed, {len(result.deleted)} deleted; scanned {result.scanned} "
        f"experiments / {result.runs} runs in {result.seconds:.1f} s"
    )


def _sync(mode: str, *, full: bool, since: datetime | None, progress: _Progress) -> SyncResult:
    result = SyncResult(mode)
    listing = {e.experiment_id: e for e in mlf.iter_experiments(include_deleted=True)}
    result.experiments = len(listing)
    index = {row.experiment_id: row for row in CatalogExperiment.objects.all()}
    to_scan = _apply_listing(listing, index, result)
    active = [i for i, e in listing.items() if not e.is_deleted]
    to_scan |= _deleted_runs_changed(active)  # counted on every sync: the next incremental one compares
    if not full:
        to_scan |= _active_counts_changed(active)
    if not full:
        to_scan |= {i for i, row in index.items() if row.runs_scanned_at is None and i in listing}
        if since is not None:
            to_scan |= _experiments_with_recent_runs(active, since - timedelta(minutes=5))
            to_scan |= _touched_by_cleanup(since - timedelta(minutes=5))
    else:
        to_scan = set(listing)
    to_scan = {i for i in to_scan if i in listing and not listing[i].is_deleted}
    progress(total=len(to_scan), message=f"Scanning runs of {len(to_scan)} experiments…")
    _scan(sorted(to_scan, key=int_or_str), result, progress)
    catalog_evaluate()
    return result


def int_or_str(value: str) -> tuple[int, str]:
    """Sort key of experiment ids: numeric ids in numeric order, others after."""
    return (int(value), "") if value.isdigit() else (0, value)


def _apply_listing(
    listing: dict[str, mlf.Experiment], index: dict[str, CatalogExperiment], result: SyncResult
) -> set[str]:
    """Create/update index rows from the experiment listing; returns ids whose runs need a scan."""
    now = timezone.now()
    to_scan: set[str] = set()
    creates: list[CatalogExperiment] = []
    updates: list[CatalogExperiment] = []
    for experiment_id, exp in listing.items():
        row = index.get(experiment_id)
        if row is None:
            creates.append(
                CatalogExperiment(
                    experiment_id=experiment_id,
                    name=exp.name,
                    lifecycle_stage=exp.lifecycle_stage,
                    last_update_time=exp.last_update_time,
                    team_tag=exp.tags.get("team", "")[:64],
                    synced_at=now,
                )
            )
            result.new.append(experiment_id)
            to_scan.add(experiment_id)
            continue
        changed = row.last_update_time != exp.last_update_time
        if row.name != exp.name:
            result.renamed.append((experiment_id, row.name, exp.name))
            row.previous_name, row.name = row.name, exp.name
        if row.lifecycle_stage != exp.lifecycle_stage:
            (result.deleted if exp.is_deleted else result.restored).append(experiment_id)
            row.lifecycle_stage = exp.lifecycle_stage
        if changed:
            to_scan.add(experiment_id)
        row.last_update_time = exp.last_update_time
        row.team_tag = exp.tags.get("team", "")[:64]  # the experiment's own team tag (it owns the experiment)
        row.synced_at = now
        updates.append(row)
    for experiment_id, row in index.items():  # gone from MLflow altogether (permanently deleted)
        if experiment_id not in listing and row.lifecycle_stage != "gone":
            result.deleted.append(experiment_id)
            row.lifecycle_stage = "gone"
            row.synced_at = now
            updates.append(row)
    with transaction.atomic():
        CatalogExperiment.objects.bulk_create(creates, batch_size=500)
        CatalogExperiment.objects.bulk_update(
            updates,
            ["name", "previous_name", "lifecycle_stage", "last_update_time", "team_tag", "synced_at"],
            batch_size=500,
        )
    return to_scan


def _experiments_with_recent_runs(experiment_ids: list[str], since: datetime) -> set[str]:
    """Experiments with a run started or ended since `since` (two filtered searches per chunk of 100)."""
    since_ms = int(since.timestamp() * 1000)
    found: set[str] = set()
    for start in range(0, len(experiment_ids), 100):
        chunk = experiment_ids[start : start + 100]
        for attribute in ("start_time", "end_time"):
            for run in mlf.iter_runs(chunk, filter_string=f"attributes.{attribute} >= {since_ms}"):
                found.add(run.experiment_id)
    return found


def _deleted_runs_changed(experiment_ids: list[str]) -> set[str]:
    """Run deletions and restores made anywhere (MLflow UI, SDK, another tool): experiments whose set of
    soft-deleted runs differs from the one the index saw last (its count, and a digest of the ids: one run
    restored and another deleted between two syncs keeps the count). One DELETED_ONLY listing per chunk of
    100 experiments (cost: the soft-deleted runs, not all runs); the new count and digest are stored. A
    first count (None in the index) only triggers a rescan when there are deleted runs the index may still
    count."""
    deleted: dict[str, list[str]] = {i: [] for i in experiment_ids}
    for start in range(0, len(experiment_ids), 100):
        for run in mlf.iter_runs(experiment_ids[start : start + 100], deleted_only=True):
            deleted.setdefault(run.experiment_id, []).append(run.run_id)
    known = {
        row[0]: row[1:]
        for row in CatalogExperiment.objects.filter(experiment_id__in=experiment_ids).values_list(
            "experiment_id", "deleted_run_count", "deleted_runs_digest"
        )
    }
    changed: set[str] = set()
    with transaction.atomic():
        for experiment_id, run_ids in deleted.items():
            if experiment_id not in known:
                continue
            count, digest = len(run_ids), _digest(run_ids)
            known_count, known_digest = known[experiment_id]
            if known_count == count and known_digest == digest:
                continue
            if (known_count is not None or count) and (known_count != count or known_digest):
                changed.add(experiment_id)  # a digest taken by an older release ('') is not a change by itself
            CatalogExperiment.objects.filter(experiment_id=experiment_id).update(
                deleted_run_count=count, deleted_runs_digest=digest
            )
    return changed


def _digest(run_ids: list[str]) -> str:
    return hashlib.sha256(",".join(sorted(run_ids)).encode()).hexdigest()


def _active_counts_changed(experiment_ids: list[str]) -> set[str]:
    """Runs gone for good between two syncs (deleted then purged elsewhere: `mlflow gc`, another tool) leave
    no soft-deleted trace: experiments whose number of active runs in the backend store differs from the
    index's, counted in one grouped read-only query per chunk when MLFLOW_BACKEND_STORE_URI is readable.
    Without a readable store this is left to the full rescan (CATALOG_FULL_RESCAN_SECONDS, 6 h)."""
    uri = settings.MLFLOW_BACKEND_STORE_URI
    if not uri or mlf.backend_store_unusable_reason(uri):
        return set()
    try:
        counts = mlf.store_active_run_counts(uri, experiment_ids)
    except mlf.BackendStoreError as exc:
        logger.warning("catalog sync: active run counts not read from the backend store: %s", exc)
        return set()
    scanned = CatalogExperiment.objects.filter(experiment_id__in=experiment_ids, runs_scanned_at__isnull=False)
    return {i for i, n in scanned.values_list("experiment_id", "run_count") if counts.get(i, 0) != n}


def _touched_by_cleanup(since: datetime) -> set[str]:
    """Experiments the product's own cleanup deleted runs from, or restored runs to, since `since`: its plan
    items are the mark (maintenance.PlanItem: outcome deleted, or restored_at set by
    maintenance/cleanup/restore.py), so the next sync rescans them whatever MLflow's listing says."""
    touched = PlanItem.objects.filter(
        Q(outcome=ItemOutcome.DELETED, executed_at__gte=since) | Q(restored_at__gte=since)
    )
    return set(touched.values_list("experiment_id", flat=True).distinct())


def _scan(experiment_ids: list[str], result: SyncResult, progress: _Progress) -> None:
    """Scan runs in a small thread pool (the server does the work); write results from this thread."""
    if not experiment_ids:
        return
    last_report = time.monotonic()
    workers = max(1, min(settings.CATALOG_SYNC_WORKERS, len(experiment_ids)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="catalog-scan") as pool:
        futures = [pool.submit(experiment_scan_runs, i) for i in experiment_ids]
        try:
            for future in as_completed(futures):
                scan = future.result()
                store_scan(scan)
                result.scanned += 1
                result.runs += scan.run_count
                if time.monotonic() - last_report > 1.0 or result.scanned == len(experiment_ids):
                    progress(done=result.scanned, runs=result.runs)
                    last_report = time.monotonic()
        except BaseException:
            for f in futures:
                f.cancel()
            raise
