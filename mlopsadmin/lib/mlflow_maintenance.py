"""MLflow for maintenance (cleanup, the stuck-run reaper, capacity): the bulk reads and writes, each from
MLflow's backend store (read-only reads, MLflow's own store layer for writes) when `store_uri` is given and
usable, else through the tracking API. Callers use them through the gateway (`mlflow_client`, re-exported).
The store modules (`mlflow_store`, `mlflow_bulk`, `mlflow_purge`) import mlflow: only when called."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import TypeVar

from mlopsadmin.lib.mlflow_errors import MlflowError, MlflowUnavailable
from mlopsadmin.lib.mlflow_errors import short_message as _short
from mlopsadmin.lib.mlflow_records import PurgeResult, Run, RunActivity
from mlopsadmin.lib.mlflow_registry import get_model_version_download_uri, iter_model_versions
from mlopsadmin.lib.mlflow_tracking import logged_model_source_run

T = TypeVar("T")
ACTIVITY_WORKERS = 4  # runs whose activity is read over REST at once (runs_activity)


def model_version_sources(*, store_uri: str = "") -> Iterator[tuple[str | None, str | None, str | None]]:
    """(run_id, source, storage location) of every registered model version; with `store_uri` read from the
    backend store (read-only) instead of REST. The storage location is where MLflow resolved the version's
    files at creation: it differs from the source for a `models:/<name>/<version>` copy (over REST it is
    asked for those versions only, one call each; None for the others). Raises MlflowError
    (BackendStoreError when the store read fails)."""
    if store_uri:
        from mlopsadmin.lib import mlflow_store  # imports mlflow (seconds): only when the store is read

        yield from _store_rows(mlflow_store.iter_model_version_sources(store_uri))
        return
    for version in iter_model_versions():
        copied = version.source.startswith("models:/") and not version.source[8:].lstrip("/").startswith("m-")
        storage = get_model_version_download_uri(version.name, version.version) if copied else None
        yield version.run_id, version.source, storage


def logged_model_source_runs(model_ids: list[str], *, store_uri: str = "") -> dict[str, str | None]:
    """{model_id: source run id or None} of logged models (`m-…`); from the backend store with `store_uri`."""
    if store_uri:
        from mlopsadmin.lib import mlflow_store

        return dict(_store_call(lambda: mlflow_store.logged_model_source_runs(store_uri, sorted(model_ids))))
    return {model_id: logged_model_source_run(model_id) for model_id in model_ids}


# Read-only fast path for cleanup planning: MLflow's backend store read directly (mlflow_store.py).
class BackendStoreError(MlflowUnavailable):
    """Reading the backend store failed part-way (the caller can list again through the tracking API)."""


def _store_call(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except Exception as exc:
        raise BackendStoreError(
            f"backend store read failed: {type(exc).__name__}: {_short(str(exc), 300)}", operation="backend store"
        ) from exc


def _store_rows(rows: Iterator[T]) -> Iterator[T]:
    """Rows of a store query, with any failure raised as BackendStoreError; the cursor is closed when
    the caller stops early."""
    iterator = iter(rows)
    try:
        while True:
            row = _store_call(lambda: next(iterator, None))
            if row is None:
                return
            yield row
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def purge_runs(backend_store_uri: str, run_ids: list[str], *, artifacts_destination: str = "") -> PurgeResult:
    """Hard-delete exactly these soft-deleted runs and their artifacts, in verified chunks (mlflow_purge.py
    says why not `mlflow gc`). Raises BackendStoreError when the store cannot be used or fails part-way."""
    from mlopsadmin.lib import mlflow_purge, mlflow_store

    try:
        return mlflow_purge.purge_runs(backend_store_uri, run_ids, artifacts_destination=artifacts_destination)
    except mlflow_store.StoreUnusable as exc:
        raise BackendStoreError(f"cannot purge: {exc}", operation="purge") from exc
    except Exception as exc:
        raise BackendStoreError(
            f"purge failed: {type(exc).__name__}: {_short(str(exc), 300)}", operation="purge"
        ) from exc


def backend_store_unusable_reason(uri: str) -> str:
    """'' when planning can read the backend store directly (reachable, and its schema revision is the
    installed MLflow's head), otherwise why not (the caller then uses the tracking API)."""
    if not uri:  # no store: not worth importing mlflow (seconds, ~150 MB) to say so
        return "MLFLOW_BACKEND_STORE_URI is not set"
    from mlopsadmin.lib import mlflow_store

    try:
        mlflow_store.store_check(uri)
    except mlflow_store.StoreUnusable as exc:
        return str(exc)
    return ""


def iter_store_cleanup_runs(
    uri: str,
    experiment_ids: list[str],
    *,
    statuses: list[str],
    cutoff_ms: int,
    tag_keys: tuple[str, ...],
    folded_key: str = "",
) -> Iterator[Run]:
    """What the tracking-API plan queries return, read from the backend store: active runs of these
    experiments with a status in `statuses` that ended before the cutoff, and RUNNING runs started
    before it; ordered by experiment. The runs carry only the `tag_keys` tags, plus every tag whose key,
    trimmed and lower-cased, is `folded_key` (any spelling of it, read for the few runs that have one; no
    params, metrics or artifact URI)."""
    from mlopsadmin.lib import mlflow_store

    if not all(str(i).isdigit() for i in experiment_ids):
        raise BackendStoreError("experiment ids are not numeric: not an MLflow SQL store", operation="backend store")
    rows = mlflow_store.iter_cleanup_rows(
        uri,
        [int(i) for i in experiment_ids],
        statuses=statuses,
        cutoff_ms=cutoff_ms,
        tag_keys=tag_keys,
        folded_key=folded_key,
    )
    for row in _store_rows(rows):
        run_id, experiment_id, name, status, start_time, end_time, latest_metric_time, others, *values = row
        tags = {key: value or "" for key, value in zip(tag_keys, values, strict=True) if value is not None}
        if others:
            tags.update(_store_call(functools.partial(mlflow_store.tags_folded, uri, run_id, folded_key)))
        yield Run.from_store(
            run_id, experiment_id, name, status, start_time, end_time, tags=tags, latest_metric_time=latest_metric_time
        )


def store_active_run_counts(uri: str, experiment_ids: list[str]) -> dict[str, int]:
    """experiment id → active runs, counted in the backend store `uri` (read-only; experiments with none
    are left out). Raises BackendStoreError when the store is unusable or the read fails."""
    from mlopsadmin.lib import mlflow_store

    if not all(str(i).isdigit() for i in experiment_ids):
        raise BackendStoreError("experiment ids are not numeric: not an MLflow SQL store", operation="backend store")
    return _store_call(lambda: mlflow_store.active_run_counts(uri, [int(i) for i in experiment_ids]))


def runs_activity(runs: list[Run], *, store_uri: str = "", not_after_ms: int | None = None) -> dict[str, RunActivity]:
    """run id → RunActivity (mlflow_records) of these runs: from the backend store (read-only, three grouped
    queries per 500 runs) with `store_uri`, else through the tracking API in batches (mlflow_activity: one
    bulk metric-history call per key and 100 runs, one probe per kind for logged models and traces, per-run
    searches only in experiments that hold any; ACTIVITY_WORKERS calls at a time). Raises BackendStoreError
    when the store read fails, MlflowError otherwise. `not_after_ms`: metric values stamped later than this
    are left out (a client's wrong clock or unit must not hide the run's real newest write)."""
    if not store_uri:
        from mlopsadmin.lib import mlflow_activity

        return mlflow_activity.runs_activity(runs, not_after_ms=not_after_ms, workers=ACTIVITY_WORKERS)
    from mlopsadmin.lib import mlflow_store

    ids = [run.run_id for run in runs]
    rows = _store_call(lambda: mlflow_store.run_activity(store_uri, ids, not_after_ms=not_after_ms))
    found = {run.run_id: rows.get(run.run_id, (None, None, None)) for run in runs}
    return {
        run_id: RunActivity(run_id, last_metric_time=metric, last_model_time=model, last_trace_time=trace)
        for run_id, (metric, model, trace) in found.items()
    }


def get_runs(
    run_ids: list[str],
    experiment_ids: list[str],
    *,
    store_uri: str = "",
    tag_keys: tuple[str, ...] = (),
    workers: int = 1,
) -> dict[str, Run]:
    """run id → Run of these runs in any lifecycle stage, in one read per chunk (mlflow_bulk.get_runs: over
    REST one search per 100 runs, `workers` at once); from the backend store with `store_uri`
    (BackendStoreError when that read fails)."""
    from mlopsadmin.lib import mlflow_bulk

    if store_uri:
        return _store_call(
            lambda: mlflow_bulk.get_runs(run_ids, experiment_ids, store_uri=store_uri, tag_keys=tag_keys)
        )
    return mlflow_bulk.get_runs(run_ids, experiment_ids, workers=workers)


def delete_runs(
    run_ids: list[str], *, workers: int, store_uri: str = "", artifacts_destination: str = ""
) -> dict[str, MlflowError | None]:
    """Soft-delete these runs with bounded concurrency, or through MLflow's store layer in-process with
    `store_uri`: run id → None or its write's error (mlflow_bulk.delete_runs). Never raises for one run."""
    from mlopsadmin.lib import mlflow_bulk

    return mlflow_bulk.delete_runs(
        run_ids, workers=workers, store_uri=store_uri, artifacts_destination=artifacts_destination
    )


def terminate_runs(
    ends: dict[str, tuple[str, int | None, dict[str, str]]],
    *,
    workers: int,
    store_uri: str = "",
    artifacts_destination: str = "",
) -> dict[str, MlflowError | None]:
    """End and tag these runs (run id → (status, end_time ms, tags)) like delete_runs (mlflow_bulk)."""
    from mlopsadmin.lib import mlflow_bulk

    return mlflow_bulk.terminate_runs(
        ends, workers=workers, store_uri=store_uri, artifacts_destination=artifacts_destination
    )


def backend_store_writable(uri: str) -> bool:
    """True when bulk writes may go through MLflow's store layer for `uri` (a SQL store on this MLflow's
    schema revision: backend_store_unusable_reason is '')."""
    return bool(uri) and not backend_store_unusable_reason(uri)
