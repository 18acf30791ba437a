"""Bulk run reads and writes for the maintenance loops (cleanup execute, the reaper): a chunk of runs
re-checked in one read, then written with bounded concurrency. Part of the MLflow gateway
(`mlflow_client` re-exports these; callers never import this module).

Reads: with `store_uri` (MLflow's backend store, readable: mlflow_store.store_check) one read-only query per
chunk; otherwise one `search_runs` (`attributes.run_id IN (…)`, all lifecycle stages) per BULK_READ runs.

Writes: with `store_uri`, through MLflow's own store layer in-process — the tracking store MLflow builds for
that URI (`mlflow.tracking._get_store`, as `mlflow gc` does): for a chunk, what its `delete_run` /
`update_run_info` + `_set_tags` do, in one session and one commit on SQLite, in `workers` sessions committed in
parallel on a server database (each run on its own when a session fails) —
MLflow's models and methods, never SQL written here; otherwise one REST request per write, `workers` at a
time. A write's failure is returned per run (never raised), so the caller reads MLflow back before recording anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlopsadmin.lib import mlflow_tracking
from mlopsadmin.lib.mlflow_errors import MlflowError, translate_error
from mlopsadmin.lib.mlflow_records import Run

BULK_READ = 100  # run ids per REST read (the filter string stays short)
Outcome = MlflowError | None  # per write: None = applied, else the error


def _chunks(values: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def get_runs(
    run_ids: list[str],
    experiment_ids: Iterable[str],
    *,
    store_uri: str = "",
    tag_keys: Iterable[str] = (),
    workers: int = 1,
) -> dict[str, Run]:
    """run id → Run for these runs in any lifecycle stage (a run missing from the answer does not exist).
    `experiment_ids`: the experiments they belong to (REST searches need them; one per BULK_READ runs, up to
    `workers` at once). With `store_uri` the runs carry only the `tag_keys` tags (and `keep` in any spelling)
    and no params/metrics but their newest latest-metric time. Raises MlflowError (BackendStoreError for a
    store failure: see mlflow_client)."""
    ids = sorted(set(run_ids))
    if not ids:
        return {}
    if store_uri:
        from mlopsadmin.lib import mlflow_store

        found: dict[str, Run] = {}
        for run_id, (row, tags) in mlflow_store.run_states(store_uri, ids, tag_keys).items():
            _, experiment_id, name, status, start_time, end_time, stage, artifact_uri, newest = row
            found[run_id] = Run.from_store(
                run_id,
                experiment_id,
                name,
                status,
                start_time,
                end_time,
                tags=tags,
                latest_metric_time=newest,
                lifecycle_stage=stage,
                artifact_uri=artifact_uri,
            )
        return found
    experiments = sorted({str(e) for e in experiment_ids})

    def search(chunk: list[str]) -> list[Run]:
        listed = ", ".join(f"'{run_id}'" for run_id in chunk if run_id.isalnum())
        if not listed:
            return []
        return list(
            mlflow_tracking.iter_runs(
                experiments, filter_string=f"attributes.run_id IN ({listed})", include_deleted=True, page_size=BULK_READ
            )
        )

    chunks = list(_chunks(ids, BULK_READ))
    if workers <= 1 or len(chunks) <= 1:
        answers = [search(chunk) for chunk in chunks]
    else:
        with ThreadPoolExecutor(max_workers=min(workers, len(chunks)), thread_name_prefix="mlflow-get-runs") as pool:
            answers = list(pool.map(search, chunks))
    return {run.run_id: run for runs in answers for run in runs}


def _store(store_uri: str, artifacts_destination: str) -> Any:
    from mlopsadmin.lib import mlflow_purge

    return mlflow_purge.tracking_store(store_uri, artifacts_destination)


def _each(
    run_ids: list[str], write: Callable[[str], None], operation: str, *, workers: int, store_uri: str
) -> dict[str, Outcome]:
    def one(run_id: str) -> Outcome:
        try:
            write(run_id)
        except Exception as exc:  # MlflowError over REST; MlflowException / SQLAlchemy errors in-process
            return translate_error(exc, operation, (run_id,))
        return None

    sqlite = store_uri.startswith("sqlite")  # one writer at a time: threads would only wait on its lock
    size = 1 if sqlite else max(1, min(workers, len(run_ids)))
    if size == 1:
        return {run_id: one(run_id) for run_id in run_ids}
    with ThreadPoolExecutor(max_workers=size, thread_name_prefix=f"mlflow-{operation}") as pool:
        return dict(zip(run_ids, pool.map(one, run_ids), strict=True))


def _in_one_session(
    store: Any, run_ids: list[str], apply: Callable[[Any, list[str]], None]
) -> dict[str, Outcome] | None:
    """Apply `apply(session, run_ids)` to the runs in ONE session of MLflow's store (one commit for the chunk).
    None when anything failed: the session rolled back, nothing of the chunk was written (the caller then
    writes each run on its own, to know which one failed)."""
    try:
        with store.ManagedSessionMaker(read_only=False) as session:
            apply(session, run_ids)
    except Exception:
        return None
    return dict.fromkeys(run_ids)


def _in_sessions(
    store: Any,
    run_ids: list[str],
    apply: Callable[[Any, list[str]], None],
    one: Callable[[str], None],
    operation: str,
    *,
    workers: int,
    store_uri: str,
) -> dict[str, Outcome]:
    """`apply` for the runs through MLflow's store: one session (one commit) for the whole chunk on SQLite (one
    writer), else the chunk split over `workers` sessions committed in parallel (a server database such as
    PostgreSQL: one session sent the chunk's statements one round trip after the other). A part whose session
    failed is written run by run with `one` (each run's own outcome)."""
    if not run_ids:
        return {}
    parts = 1 if store_uri.startswith("sqlite") else max(1, min(workers, len(run_ids)))
    slices = [run_ids[i::parts] for i in range(parts)]

    def part(ids: list[str]) -> dict[str, Outcome]:
        together = _in_one_session(store, ids, apply)
        return together if together is not None else _each(ids, one, operation, workers=1, store_uri=store_uri)

    if parts == 1:
        return part(run_ids)
    outcomes: dict[str, Outcome] = {}
    with ThreadPoolExecutor(max_workers=parts, thread_name_prefix=f"mlflow-store-{operation}") as pool:
        for found in pool.map(part, slices):
            outcomes.update(found)
    return {run_id: outcomes[run_id] for run_id in run_ids}


def _runs_in_session(store: Any, session: Any, ids: list[str]) -> dict[str, Any]:
    """The runs `ids` as MLflow's SqlRun rows of `session`, in one query (what `_get_run` reads, one run per
    query there). Raises MlflowException RESOURCE_DOES_NOT_EXIST for a missing run, as `_get_run` does (the
    caller's session then rolls back and each run is written on its own)."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST
    from mlflow.store.tracking.dbmodels.models import SqlRun

    run_model: Any = SqlRun
    query = store._get_query(session, SqlRun) if hasattr(store, "_get_query") else session.query(SqlRun)
    runs = {run.run_uuid: run for run in query.filter(run_model.run_uuid.in_(ids))}
    missing = [run_id for run_id in ids if run_id not in runs]
    if missing:
        raise MlflowException(f"Run with id={missing[0]} not found", RESOURCE_DOES_NOT_EXIST)
    return runs


def delete_runs(
    run_ids: list[str], *, workers: int, store_uri: str = "", artifacts_destination: str = ""
) -> dict[str, Outcome]:
    """Soft-delete these runs: run id → None (deleted) or the MlflowError of its write (then read it back:
    a timed-out write may have been applied). `workers` REST requests at a time, or with `store_uri`
    through MLflow's store layer in-process: what its `delete_run` does (`_get_run`, `_mark_run_deleted`)
    for the chunk in one session and one commit (SQLite; `workers` sessions in parallel on a server database:
    _in_sessions), each run on its own session when that fails. Never
    raises for one run."""
    if store_uri:
        store = _store(store_uri, artifacts_destination)

        def mark(session: Any, ids: list[str]) -> None:
            """What MLflow's delete_run does for each run (`_mark_run_deleted`), the runs read in one query
            (`_get_run` read one run per query)."""
            runs = _runs_in_session(store, session, ids)
            for run_id in ids:
                store._mark_run_deleted(session, runs[run_id])

        return _in_sessions(store, run_ids, mark, store.delete_run, "delete_run", workers=workers, store_uri=store_uri)
    return _each(run_ids, mlflow_tracking.delete_run, "delete_run", workers=workers, store_uri="")


def terminate_runs(
    ends: dict[str, tuple[str, int | None, dict[str, str]]],
    *,
    workers: int,
    store_uri: str = "",
    artifacts_destination: str = "",
) -> dict[str, Outcome]:
    """End each run (`ends`: run id → (status, end_time ms, tags to set)) and set its tags: run id → None
    (both written) or the MlflowError of the first write that failed (read it back). Concurrency and
    store layer as `delete_runs`. Never raises for one run."""
    if store_uri:
        from mlopsadmin.lib import mlflow_lean  # noqa: F401 - before mlflow: no pandas' pyarrow backend

        # isort: split
        from mlflow.entities import RunStatus, RunTag
        from mlflow.store.tracking.dbmodels.models import SqlTag
        from mlflow.utils.validation import _validate_tag

        store = _store(store_uri, artifacts_destination)

        def end(session: Any, ids: list[str]) -> None:
            """What update_run_info and _set_tags do for each run, the chunk's runs and their current tags of
            these keys read in one query each (MLflow's models; `_get_run` read one run per query, each after
            an autoflush of the previous run's changes)."""
            tag_model: Any = SqlTag
            runs = _runs_in_session(store, session, ids)
            keys = sorted({key for run_id in ids for key in ends[run_id][2]})
            with session.no_autoflush:
                current = {
                    (t.run_uuid, t.key): t
                    for t in session.query(SqlTag).filter(tag_model.run_uuid.in_(ids), tag_model.key.in_(keys))
                }
                for run_id in ids:
                    status, end_time, tags = ends[run_id]
                    run = runs[run_id]
                    store._check_run_is_active(run)
                    run.status, run.end_time = RunStatus.to_string(RunStatus.from_string(status)), end_time
                    for key, value in tags.items():
                        tag = _validate_tag(key, value)
                        if (run_id, tag.key) in current:
                            current[(run_id, tag.key)].value = tag.value
                        else:
                            session.add(SqlTag(run_uuid=run_id, key=tag.key, value=tag.value))

        def write_one(run_id: str) -> None:
            status, end_time, tags = ends[run_id]
            store.update_run_info(run_id, RunStatus.from_string(status), end_time, None)
            store.log_batch(run_id, metrics=[], params=[], tags=[RunTag(k, v) for k, v in tags.items()])

        return _in_sessions(store, list(ends), end, write_one, "set_terminated", workers=workers, store_uri=store_uri)

    def write(run_id: str) -> None:
        status, end_time, tags = ends[run_id]
        mlflow_tracking.set_terminated(run_id, status=status, end_time=end_time)
        mlflow_tracking.log_batch(run_id, tags=tags)

    return _each(list(ends), write, "set_terminated", workers=workers, store_uri="")
