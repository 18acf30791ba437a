"""Read-only access to MLflow's backend store, for planning a cleanup. Used by the gateway only
(`mlopsadmin.lib.mlflow_client`); nothing else imports this module.

Why: over REST, MLflow's SQL store loads every run's tags, params and latest metrics (~7 ms per run), so
listing 100,000 runs is server-bound. Reading the few columns a plan needs straight from the store is
seconds. Safety:
- the queries use MLflow's own SQLAlchemy models (no copy of its schema), select only the needed columns
  and stream rows (server-side cursor, `yield_per`), so memory stays a few thousand rows;
- every connection is read-only (SQLite `PRAGMA query_only`, PostgreSQL `default_transaction_read_only`,
  MySQL `SET SESSION TRANSACTION READ ONLY`);
- the store is used only when its alembic revision equals the installed MLflow's head revision, the same
  check MLflow's own server makes at start-up (`store_check`). The head is read from MLflow's migration
  scripts as text: loading them through alembic would add ~20 MB to the worker for one string.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mlopsadmin.lib import mlflow_lean  # noqa: F401 - imports mlflow without pandas' pyarrow backend

# isort: split
import mlflow
from mlflow.store.model_registry.dbmodels.models import SqlModelVersion
from mlflow.store.tracking.dbmodels.models import (
    SqlLatestMetric,
    SqlLoggedModel,
    SqlMetric,
    SqlRun,
    SqlTag,
    SqlTraceInfo,
    SqlTraceMetadata,
)

STREAM_ROWS = 1000  # rows per fetch from the server-side cursor
ID_CHUNK = 500  # experiment ids / model ids per IN list
SQL_SCHEMES = ("sqlite", "postgresql", "mysql")  # the ones with a read-only session guard below
DELETED_VERSION_STAGE = "Deleted_Internal"  # MLflow's STAGE_DELETED_INTERNAL: the registry hides these
SOURCE_RUN_KEY = "mlflow.sourceRun"  # MLflow's TraceMetadataKey.SOURCE_RUN: the run a trace was recorded in


class StoreUnusable(Exception):
    """The backend store cannot be read for planning (not configured, unreachable, other schema)."""


_engines: dict[str, sa.Engine] = {}
_lock = threading.Lock()


def _read_only(engine: sa.Engine) -> None:
    dialect = engine.dialect.name

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if dialect == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        elif dialect == "mysql":
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
        cursor.close()


def engine(uri: str) -> sa.Engine:
    """One read-only engine per URI (pooled, reused across plans)."""
    try:
        url = sa.make_url(uri)
    except Exception as exc:
        raise StoreUnusable(f"not a valid database URL ({type(exc).__name__})") from exc
    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":  # checked every time: connecting to a missing file would create an empty one
        database = url.database or ""
        if database in ("", ":memory:") or not Path(database).is_file():
            raise StoreUnusable(f"SQLite file {database or '(none)'} not found")
        connect_args = {"timeout": 30}
    elif backend == "postgresql":
        connect_args = {"connect_timeout": 10, "options": "-c default_transaction_read_only=on"}
    elif backend == "mysql":
        connect_args = {"connect_timeout": 10}
    with _lock:
        if uri not in _engines:
            try:
                created = sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True)
            except Exception as exc:  # a missing driver
                raise StoreUnusable(f"cannot open the backend store: {type(exc).__name__}: {_scrub(exc, uri)}") from exc
            _read_only(created)
            _engines[uri] = created
        return _engines[uri]


def _scrub(exc: BaseException, uri: str) -> str:
    """An error's text, short and without the URI's password (it is shown on pages and logged)."""
    text = " ".join(str(exc).split("(Background on this error")[0].split())
    try:
        password = sa.make_url(uri).password
    except Exception:
        password = None
    for secret in (uri, password):
        if secret:
            text = text.replace(str(secret), "***")
    return text[:200]


@functools.cache
def head_revision() -> str:
    """The installed MLflow's newest schema revision: the one revision of its migration scripts that no
    other script names as its `down_revision`. '' when that is not exactly one (then no store is used)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (Path(mlflow.__file__).parent / "store" / "db_migrations" / "versions").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        revisions.update(re.findall(r"^revision\s*(?::[^=]*)?=\s*[\"']([0-9a-zA-Z_]+)[\"']", text, re.MULTILINE))
        for line in re.findall(r"^down_revision\s*(?::[^=]*)?=(.*)$", text, re.MULTILINE):
            parents.update(re.findall(r"[\"']([0-9a-zA-Z_]+)[\"']", line))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else ""


def _schema_revision(uri: str) -> str:
    with engine(uri).connect() as connection:
        return str(connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() or "")


def store_check(uri: str) -> str:
    """The store's schema revision when it is reachable and equal to the installed MLflow's head;
    raises StoreUnusable saying why otherwise."""
    if not uri:
        raise StoreUnusable("MLFLOW_BACKEND_STORE_URI is not set")
    scheme = uri.split(":", 1)[0]
    if scheme.split("+", 1)[0] not in SQL_SCHEMES:
        raise StoreUnusable(f"not a SQL store ({scheme})")
    try:
        found = _schema_revision(uri)
    except StoreUnusable:
        raise
    except Exception as exc:
        if "alembic_version" in str(exc):  # no such table: not (yet) an MLflow store
            raise StoreUnusable("no MLflow schema revision in the store (no alembic_version table)") from exc
        raise StoreUnusable(f"backend store unreachable: {type(exc).__name__}: {_scrub(exc, uri)}") from exc
    head = head_revision()
    if not head:
        raise StoreUnusable("the installed MLflow's schema head revision could not be determined")
    if found != head:
        raise StoreUnusable(f"schema revision {found or 'none'} differs from this MLflow's {head}")
    return str(found)


def _tag(key: str) -> Any:
    return (
        sa.select(SqlTag.value)
        .where(SqlTag.run_uuid == SqlRun.run_uuid, SqlTag.key == key)
        .scalar_subquery()
        .label(key)
    )


def _stream(uri: str, statement: Any) -> Iterator[Any]:
    with engine(uri).connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(statement)
        yield from result


def _folded(key: Any) -> Any:
    return sa.func.lower(sa.func.trim(key))


def iter_cleanup_rows(
    uri: str,
    experiment_ids: list[int],
    *,
    statuses: list[str],
    cutoff_ms: int,
    tag_keys: Iterable[str],
    folded_key: str = "",
) -> Iterator[Any]:
    """Active runs of these experiments that a cleanup plan looks at: `statuses` ended before the cutoff,
    and RUNNING started before it. Rows (run_uuid, experiment_id, name, status, start_time, end_time,
    latest_metric_time, other_spellings, *tag values), ordered by experiment then run. latest_metric_time
    (RUNNING rows only, else None): the newest timestamp of the run's `latest_metrics` rows — exactly the
    metric timestamps the tracking API returns with a run, so both plan sources judge a RUNNING run alike.
    other_spellings: how many of the run's tags have a key that, trimmed and lower-cased, is `folded_key`
    but is none of `tag_keys` ("kEEp", "keep "; read them with tags_folded), 0 without `folded_key`."""
    tag_keys = list(tag_keys)
    tags = [_tag(key) for key in tag_keys]
    if folded_key:
        other_spellings: Any = (
            sa.select(sa.func.count())
            .where(SqlTag.run_uuid == SqlRun.run_uuid, _folded(SqlTag.key) == folded_key, SqlTag.key.not_in(tag_keys))
            .scalar_subquery()
        )
    else:
        other_spellings = sa.literal(0)
    run: Any = SqlRun  # MLflow declares untyped Columns: comparisons would type as bool
    latest: Any = SqlLatestMetric
    latest_metric_time = sa.case(
        (
            run.status == "RUNNING",
            sa.select(sa.func.max(latest.timestamp)).where(latest.run_uuid == run.run_uuid).scalar_subquery(),
        ),
        else_=sa.null(),
    ).label("latest_metric_time")
    columns = [
        SqlRun.run_uuid,
        SqlRun.experiment_id,
        SqlRun.name,
        SqlRun.status,
        SqlRun.start_time,
        SqlRun.end_time,
        latest_metric_time,
        other_spellings.label("other_spellings"),
        *tags,
    ]
    wanted = sa.or_(
        sa.and_(run.status.in_(statuses), run.end_time < cutoff_ms),
        sa.and_(run.status == "RUNNING", run.start_time < cutoff_ms),
    )
    ordered = sorted(set(experiment_ids))
    for start in range(0, len(ordered), ID_CHUNK):
        statement = (
            sa.select(*columns)
            .where(
                SqlRun.experiment_id.in_(ordered[start : start + ID_CHUNK]), SqlRun.lifecycle_stage == "active", wanted
            )
            .order_by(SqlRun.experiment_id, SqlRun.run_uuid)
        )
        yield from _stream(uri, statement)


def tags_folded(uri: str, run_id: str, folded_key: str) -> dict[str, str]:
    """key → value of the run's tags whose key, trimmed and lower-cased, is `folded_key`."""
    statement: Any = sa.select(SqlTag.key, SqlTag.value).where(
        SqlTag.run_uuid == run_id, _folded(SqlTag.key) == folded_key
    )
    return {key: value or "" for key, value in _stream(uri, statement)}


def iter_model_version_sources(uri: str) -> Iterator[tuple[str | None, str | None, str | None]]:
    """(run_id, source, storage_location) of every registered model version the registry shows (not
    internally deleted)."""
    statement: Any = sa.select(SqlModelVersion.run_id, SqlModelVersion.source, SqlModelVersion.storage_location).where(
        SqlModelVersion.current_stage != DELETED_VERSION_STAGE
    )
    yield from (tuple(row) for row in _stream(uri, statement))


def logged_model_source_runs(uri: str, model_ids: list[str]) -> dict[str, str]:
    """model_id → source run id of these logged models (deleted logged models are skipped, as over REST)."""
    found: dict[str, str] = {}
    for start in range(0, len(model_ids), ID_CHUNK):
        statement: Any = sa.select(SqlLoggedModel.model_id, SqlLoggedModel.source_run_id).where(
            SqlLoggedModel.model_id.in_(model_ids[start : start + ID_CHUNK]),
            SqlLoggedModel.lifecycle_stage != "deleted",
        )
        found.update({model_id: run_id for model_id, run_id in _stream(uri, statement) if run_id})
    return found


def run_activity(
    uri: str, run_ids: list[str], *, not_after_ms: int | None = None
) -> dict[str, tuple[int | None, int | None, int | None]]:
    """run id → (newest timestamp among all its metric values, newest update time of a logged model whose
    source run it is, newest end of a trace recorded under it: start + execution time of a trace whose
    `mlflow.sourceRun` metadata names it), for these runs; runs with none of them are left out. Metric values
    stamped after `not_after_ms` are not counted (client-sent timestamps can be wrong)."""
    metric: Any = SqlMetric
    model: Any = SqlLoggedModel
    trace: Any = SqlTraceInfo
    meta: Any = SqlTraceMetadata
    found: dict[str, tuple[int | None, int | None, int | None]] = {}
    ordered = sorted(set(run_ids))
    for start in range(0, len(ordered), ID_CHUNK):
        chunk = ordered[start : start + ID_CHUNK]
        metrics = (
            sa.select(metric.run_uuid, sa.func.max(metric.timestamp))
            .where(metric.run_uuid.in_(chunk), *([metric.timestamp <= not_after_ms] if not_after_ms else []))
            .group_by(metric.run_uuid)
        )
        for run_id, newest in _stream(uri, metrics):
            found[run_id] = (newest, None, None)
        models = (
            sa.select(model.source_run_id, sa.func.max(model.last_updated_timestamp_ms))
            .where(model.source_run_id.in_(chunk))
            .group_by(model.source_run_id)
        )
        for run_id, newest in _stream(uri, models):
            found[run_id] = (found.get(run_id, (None, None, None))[0], newest, None)
        traces = (
            sa.select(meta.value, sa.func.max(trace.timestamp_ms + sa.func.coalesce(trace.execution_time_ms, 0)))
            .join(trace, trace.request_id == meta.request_id)
            .where(meta.key == SOURCE_RUN_KEY, meta.value.in_(chunk))
            .group_by(meta.value)
        )
        for run_id, newest in _stream(uri, traces):
            metric_time, model_time, _ = found.get(run_id, (None, None, None))
            found[run_id] = (metric_time, model_time, newest)
    return found


def active_run_counts(uri: str, experiment_ids: list[int]) -> dict[str, int]:
    """experiment id → number of its active (not soft-deleted) runs; experiments without any are left out.
    One grouped read-only query per ID_CHUNK experiments."""
    run: Any = SqlRun
    found: dict[str, int] = {}
    ordered = sorted(set(experiment_ids))
    for start in range(0, len(ordered), ID_CHUNK):
        statement = (
            sa.select(run.experiment_id, sa.func.count())
            .where(run.experiment_id.in_(ordered[start : start + ID_CHUNK]), run.lifecycle_stage == "active")
            .group_by(run.experiment_id)
        )
        found.update({str(experiment_id): int(n) for experiment_id, n in _stream(uri, statement)})
    return found


def run_states(uri: str, run_ids: list[str], tag_keys: Iterable[str]) -> dict[str, tuple[Any, dict[str, str]]]:
    """run id → (row, tags) for these runs, whatever their lifecycle stage (a bulk re-check before a write).
    row: (run_uuid, experiment_id, name, status, start_time, end_time, lifecycle_stage, artifact_uri,
    latest_metric_time: the newest of its `latest_metrics` timestamps, as the tracking API returns them).
    tags: only keys in `tag_keys` or containing `keep` in any case (the caller's rule decides which protect).
    Missing runs are left out."""
    run: Any = SqlRun
    latest: Any = SqlLatestMetric
    tag: Any = SqlTag
    newest = (
        sa.select(sa.func.max(latest.timestamp)).where(latest.run_uuid == run.run_uuid).scalar_subquery().label("m")
    )
    columns = [run.run_uuid, run.experiment_id, run.name, run.status, run.start_time, run.end_time]
    columns += [run.lifecycle_stage, run.artifact_uri, newest]
    found: dict[str, tuple[Any, dict[str, str]]] = {}
    ordered = sorted(set(run_ids))
    wanted_keys = sa.or_(tag.key.in_(list(tag_keys)), sa.func.lower(tag.key).contains("keep"))  # Python decides
    for start in range(0, len(ordered), ID_CHUNK):
        chunk = ordered[start : start + ID_CHUNK]
        for row in _stream(uri, sa.select(*columns).where(run.run_uuid.in_(chunk))):
            found[row[0]] = (tuple(row), {})
        tags = sa.select(tag.run_uuid, tag.key, tag.value).where(tag.run_uuid.in_(chunk), wanted_keys)
        for run_id, key, value in _stream(uri, tags):
            if run_id in found:
                found[run_id][1][key] = value or ""
    return found
