"""Hard-delete (purge) exactly the given soft-deleted runs, in-process through MLflow's own store layer.

Why not `mlflow gc --run-ids`: in MLflow 3.x, without `--experiment-ids` it ALSO hard-deletes every
soft-deleted experiment with all its runs, and every soft-deleted logged model (cli `_gc_tracking_resources`);
with `--experiment-ids` it hard-deletes all of those experiments' deleted runs. Neither can be scoped to a
list of runs. So this module does for each run what gc does for one run, and nothing else:
`get_artifact_repository(run.info.artifact_uri).delete_artifacts()` then `store._hard_delete_run(run_id)`,
with the tracking store MLflow itself builds for the backend store URI (`mlflow.tracking._get_store`). No SQL
is written here against MLflow's tables; the before/after counts use MLflow's own SQLAlchemy models through
the read-only engine of `mlflow_store`.

Safety: a run that is not soft-deleted is refused; after each chunk the store is counted again and the
chunk's runs must be gone while the counts of every other run, of experiments and of logged models did not
drop — any surprise stops the purge (`PurgeResult.surprise`). Bytes freed are measured: the run's artifact
tree is listed before and after deleting it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa

from mlopsadmin.lib import mlflow_lean  # noqa: F401 - imports mlflow without pandas' pyarrow backend

# isort: split
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.store.tracking.dbmodels.models import SqlExperiment, SqlLoggedModel, SqlRun
from mlflow.tracking._tracking_service.utils import _get_store

from mlopsadmin.lib import mlflow_store
from mlopsadmin.lib.mlflow_connection import tracking_uri
from mlopsadmin.lib.mlflow_errors import short_message
from mlopsadmin.lib.mlflow_records import PurgeResult

PURGE_CHUNK = 200  # runs per verified chunk
ARTIFACT_WORKERS = 4  # artifact trees measured and deleted at once


@functools.cache
def tracking_store(backend_store_uri: str, artifacts_destination: str) -> Any:
    return _get_store(backend_store_uri, artifacts_destination or None)


def _artifact_bytes(repo: Any, path: str | None = None) -> int:
    total = 0
    for info in repo.list_artifacts(path):
        total += _artifact_bytes(repo, info.path) if info.is_dir else int(info.file_size or 0)
    return total


def _counts(uri: str, chunk: list[str]) -> tuple[int, int, int, int]:
    """(runs outside the chunk, runs of the chunk, experiments, logged models) in the store, all stages."""
    count = sa.func.count()
    run: Any = SqlRun
    with mlflow_store.engine(uri).connect() as connection:
        total = connection.execute(sa.select(count).select_from(SqlRun)).scalar()
        mine = connection.execute(sa.select(count).select_from(SqlRun).where(run.run_uuid.in_(chunk))).scalar()
        experiments = connection.execute(sa.select(count).select_from(SqlExperiment)).scalar()
        models = connection.execute(sa.select(count).select_from(SqlLoggedModel)).scalar()
    return int(total or 0) - int(mine or 0), int(mine or 0), int(experiments or 0), int(models or 0)


def _states(uri: str, chunk: list[str]) -> dict[str, tuple[str, str]]:
    """run id → (lifecycle stage, artifact URI) of the chunk's runs still in the store (one read-only query)."""
    run: Any = SqlRun
    statement = sa.select(run.run_uuid, run.lifecycle_stage, run.artifact_uri).where(run.run_uuid.in_(chunk))
    with mlflow_store.engine(uri).connect() as connection:
        return {run_id: (stage, uri or "") for run_id, stage, uri in connection.execute(statement)}


def purge_runs(backend_store_uri: str, run_ids: Iterable[str], *, artifacts_destination: str = "") -> PurgeResult:
    """Hard-delete exactly `run_ids` (each must be soft-deleted), with their artifacts, in verified chunks
    of PURGE_CHUNK: per chunk one read of the runs' stages and artifact locations, the artifact trees measured
    and deleted ARTIFACT_WORKERS at a time, then each run hard-deleted by MLflow's store (`_hard_delete_run`,
    one after the other: a SQLite store has one writer), then the store counted again. Never raises for one
    run's failure (it goes to `skipped`); raises mlflow_store.StoreUnusable when the store cannot be opened or
    is on another schema revision."""
    mlflow_store.store_check(backend_store_uri)
    store = tracking_store(backend_store_uri, artifacts_destination)
    result = PurgeResult()
    ordered = list(dict.fromkeys(run_ids))
    with ThreadPoolExecutor(max_workers=ARTIFACT_WORKERS, thread_name_prefix="purge-artifacts") as pool:
        for start in range(0, len(ordered), PURGE_CHUNK):
            chunk = ordered[start : start + PURGE_CHUNK]
            others, _, experiments, models = _counts(backend_store_uri, chunk)
            states = _states(backend_store_uri, chunk)
            for run_id in chunk:
                if run_id not in states:
                    result.skipped[run_id] = "not found"
                elif states[run_id][0] != "deleted":
                    result.skipped[run_id] = f"not soft-deleted (lifecycle stage {states[run_id][0]}): left alone"
            todo = [run_id for run_id in chunk if run_id not in result.skipped]
            locations = [states[run_id][1] for run_id in todo]
            uris = [backend_store_uri] * len(todo)
            cleared = list(pool.map(_clear_artifacts, todo, locations, [result] * len(todo), uris))
            done = [
                run_id
                for run_id, before in zip(todo, cleared, strict=True)
                if _hard_delete(store, run_id, before, result, backend_store_uri)
            ]
            others_after, mine_after, experiments_after, models_after = _counts(backend_store_uri, chunk)
            expected_left = len(chunk) - len(done) - sum(1 for r in chunk if result.skipped.get(r) == "not found")
            if others_after < others or experiments_after < experiments or models_after < models:
                result.surprise = (
                    f"the store lost more than the planned runs during this chunk: other runs {others} -> "
                    f"{others_after}, experiments {experiments} -> {experiments_after}, logged models {models} -> "
                    f"{models_after}; purge stopped"
                )
                return result
            if mine_after != expected_left:
                result.surprise = (
                    f"{mine_after} of this chunk's runs are still in the store, expected {expected_left}; purge stopped"
                )
                return result
    return result


_NOT_CLEARED = -2  # _clear_artifacts: the artifacts could not be deleted (the run is kept)


def _restored(uri: str, run_id: str) -> bool:
    """Is the run no longer soft-deleted (restored in the MLflow UI or SDK since the chunk's stages were read)?
    Asked again just before its artifacts are deleted and just before it is hard-deleted."""
    stage = _states(uri, [run_id]).get(run_id, ("", ""))[0]
    return bool(stage) and stage != "deleted"


def _clear_artifacts(run_id: str, artifact_uri: str, result: PurgeResult, uri: str) -> int | None:
    """Measure and delete one run's artifact tree. Returns the bytes it held (None: could not be listed), or
    _NOT_CLEARED with the reason in `result.skipped` (then the run is kept; also when it was restored
    meanwhile)."""
    if _restored(uri, run_id):
        result.skipped[run_id] = "restored during the purge, before its artifacts were deleted: run and artifacts kept"
        return _NOT_CLEARED
    try:
        # `mlflow-artifacts:` locations resolve against the tracking server (as `mlflow gc --tracking-uri`),
        # never against whatever process-wide tracking URI MLflow defaults to (a local sqlite file in 3.x).
        repo = get_artifact_repository(artifact_uri, tracking_uri=tracking_uri())
    except Exception as exc:
        result.skipped[run_id] = f"artifact location unusable: {short_message(str(exc), 200)}; run kept"
        return _NOT_CLEARED
    before: int | None
    try:
        before = _artifact_bytes(repo)
    except Exception:
        before = None
    try:
        repo.delete_artifacts()
    except Exception as exc:
        result.skipped[run_id] = f"artifacts not deleted: {short_message(str(exc), 200)}; run kept"
        return _NOT_CLEARED
    try:
        after = _artifact_bytes(repo)
    except Exception:
        return None
    return None if before is None else max(0, before - after)


def _hard_delete(store: Any, run_id: str, freed: int | None, result: PurgeResult, uri: str) -> bool:
    if freed == _NOT_CLEARED:
        return False
    if _restored(uri, run_id):
        result.skipped[run_id] = (
            "restored during the purge, after its artifacts were deleted: run kept, its artifacts are gone"
        )
        return False
    try:
        store._hard_delete_run(run_id)
    except Exception as exc:
        result.skipped[run_id] = f"artifacts deleted, run not hard-deleted: {short_message(str(exc), 200)}"
        return False
    result.hard_deleted.append(run_id)
    if freed is None:
        result.unmeasured.append(run_id)
    else:
        result.bytes_freed += freed
    return True
