"""The MLflow gateway: the only module in mlopsadmin that imports `mlflow`.

It owns client construction (URI, credentials, timeouts), full pagination (every `iter_*` walks all
pages; there is no silent `max_results` cap), conversion of MLflow entities into plain dataclasses
(alias versions are always `str`), and the mapping of MLflow/HTTP failures to domain exceptions that
say whether retrying can help (`MlflowError.retryable`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
from django.conf import settings

from mlopsadmin.core.redaction import scrub
from mlopsadmin.lib.uris import without_credentials

# MLflow reads these per request; set them before the first call so a dead or slow server fails fast
# instead of MLflow's default of 7 retries with backoff and a 120 s timeout.
os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(int(max(1, settings.MLFLOW_REQUEST_TIMEOUT)))
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(settings.MLFLOW_REQUEST_MAX_RETRIES)
os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "1"
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # no phoning home (air-gapped), no flaky session ids

import mlflow  # noqa: E402
from mlflow.entities import ViewType  # noqa: E402
from mlflow.exceptions import MlflowException, RestException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

T = TypeVar("T")

RUNS_PAGE_SIZE = 1000
EXPERIMENTS_PAGE_SIZE = 1000
MODELS_PAGE_SIZE = 1000
VERSIONS_PAGE_SIZE = 10000


# --- Domain errors ---------------------------------------------------------------------------
class MlflowError(Exception):
    """An MLflow call failed. `retryable` says whether trying again later can help."""

    retryable = False

    def __init__(self, message: str, *, operation: str = "") -> None:
        super().__init__(message)
        self.operation = operation

    @property
    def tracking_uri(self) -> str:
        return display_uri(tracking_uri())


class MlflowUnavailable(MlflowError):
    """The server could not be reached, timed out, or answered 5xx."""

    retryable = True


class MlflowNotFound(MlflowError):
    pass


class MlflowInvalid(MlflowError):
    pass


class MlflowConflict(MlflowError):
    """The thing already exists (e.g. an experiment name is taken)."""


class MlflowPermissionDenied(MlflowError):
    pass


class MlflowServerError(MlflowError):
    """The server answered, with an internal error (HTTP 5xx or INTERNAL_ERROR): it is up, the request
    failed on its side. Trying again later may help; it is not "not answering"."""

    retryable = True


_CODE_TO_ERROR: dict[str, type[MlflowError]] = {
    "RESOURCE_DOES_NOT_EXIST": MlflowNotFound,
    "NOT_FOUND": MlflowNotFound,
    "INVALID_PARAMETER_VALUE": MlflowInvalid,
    "BAD_REQUEST": MlflowInvalid,
    "INVALID_STATE": MlflowInvalid,
    "RESOURCE_ALREADY_EXISTS": MlflowConflict,
    "PERMISSION_DENIED": MlflowPermissionDenied,
    "UNAUTHENTICATED": MlflowPermissionDenied,
    "INTERNAL_ERROR": MlflowUnavailable,
    "TEMPORARILY_UNAVAILABLE": MlflowUnavailable,
    "REQUEST_LIMIT_EXCEEDED": MlflowUnavailable,
}


def translate_error(exc: BaseException, operation: str) -> MlflowError:
    if isinstance(exc, MlflowError):
        return exc
    if isinstance(exc, MlflowException):
        code = str(getattr(exc, "error_code", "") or "")
        message = exc.message if hasattr(exc, "message") else str(exc)
        if not isinstance(exc, RestException) and (
            "Max retries exceeded" in message
            or "timed out" in message
            or "Connection" in message
            or "API request to" in message
        ):
            return MlflowUnavailable(
                f"MLflow server unreachable during {operation}: {_short(message)}", operation=operation
            )
        error_class = _CODE_TO_ERROR.get(code, MlflowError)
        return error_class(f"{operation}: {_short(message)}", operation=operation)
    if isinstance(exc, requests.exceptions.RequestException | ConnectionError | TimeoutError | OSError):
        return MlflowUnavailable(
            f"MLflow server unreachable during {operation}: {_short(str(exc))}", operation=operation
        )
    return MlflowError(f"{operation}: {_short(str(exc))}", operation=operation)


def _short(message: str, limit: int = 400) -> str:
    """One line of a library's error text, without URI credentials or configured secrets (MLflow quotes
    the tracking URI, user:password@ included, in its connection errors)."""
    message = scrub(" ".join(str(message).split()))
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _call(operation: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # every failure leaves as a domain error
        raise translate_error(exc, operation) from exc


# --- Client ----------------------------------------------------------------------------------
def tracking_uri() -> str:
    return str(settings.MLFLOW_TRACKING_URI)


def ui_url() -> str:
    return str(settings.MLFLOW_UI_URL)


def display_uri(uri: str) -> str:
    """A URI safe to show on a page or in a log line: any user:password part is removed."""
    return without_credentials(uri)


_client_cache: dict[tuple[str, str, str], MlflowClient] = {}


def client() -> MlflowClient:
    uri = tracking_uri()
    username = settings.MLFLOW_TRACKING_USERNAME
    password = settings.MLFLOW_TRACKING_PASSWORD
    key = (uri, username, password)
    if key not in _client_cache:
        # basic-auth credentials are read from the environment by MLflow's REST layer
        if username:
            os.environ["MLFLOW_TRACKING_USERNAME"] = username
            os.environ["MLFLOW_TRACKING_PASSWORD"] = password
        _client_cache.clear()
        _client_cache[key] = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return _client_cache[key]


def _paginate(operation: str, search: Callable[..., Any], **kwargs: Any) -> Iterator[Any]:
    token: str | None = None
    while True:
        page = _call(operation, search, page_token=token, **kwargs)
        yield from page
        token = page.token
        if not token:
            return


# --- Plain records ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    lifecycle_stage: str
    artifact_location: str
    tags: dict[str, str]
    creation_time: int | None
    last_update_time: int | None

    @property
    def is_deleted(self) -> bool:
        return self.lifecycle_stage == "deleted"


@dataclass(frozen=True)
class Run:
    run_id: str
    experiment_id: str
    run_name: str
    status: str
    start_time: int | None
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    metric_timestamps: dict[str, int] = field(default_factory=dict)

    @property
    def last_metric_time(self) -> int | None:
        return max(self.metric_timestamps.values(), default=None)


@dataclass(frozen=True)
class MetricPoint:
    step: int
    value: float
    timestamp: int


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    run_id: str
    source: str
    status: str
    current_stage: str
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    description: str
    tags: dict[str, str]
    aliases: list[str]


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    description: str
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    tags: dict[str, str]
    aliases: dict[str, str]  # alias -> version (always str)
    latest_version: str | None


def _experiment(e: Any) -> Experiment:
    return Experiment(
        experiment_id=str(e.experiment_id),
        name=e.name,
        lifecycle_stage=e.lifecycle_stage,
        artifact_location=e.artifact_location or "",
        tags=dict(e.tags or {}),
        creation_time=e.creation_time,
        last_update_time=e.last_update_time,
    )


def _run(r: Any) -> Run:
    info, data = r.info, r.data
    # `data.metrics` holds latest values; timestamps come from the raw metric objects when present.
    metric_timestamps = {m.key: int(m.timestamp) for m in getattr(data, "_metric_objs", []) or []}
    return Run(
        run_id=info.run_id,
        experiment_id=str(info.experiment_id),
        run_name=info.run_name or "",
        status=info.status,
        start_time=info.start_time,
        end_time=info.end_time,
        lifecycle_stage=info.lifecycle_stage,
        artifact_uri=info.artifact_uri or "",
        tags=dict(data.tags or {}),
        params=dict(data.params or {}),
        metrics=dict(data.metrics or {}),
        metric_timestamps=metric_timestamps,
    )


def _version(v: Any) -> ModelVersion:
    return ModelVersion(
        name=v.name,
        version=str(v.version),
        run_id=v.run_id or "",
        source=v.source or "",
        status=str(v.status or ""),
        current_stage=str(v.current_stage or ""),
        creation_timestamp=v.creation_timestamp,
        last_updated_timestamp=v.last_updated_timestamp,
        description=v.description or "",
        tags=dict(v.tags or {}),
        aliases=sorted(v.aliases or []),
    )


def _model(m: Any) -> RegisteredModel:
    versions = [int(v.version) for v in (m.latest_versions or [])]
    return RegisteredModel(
        name=m.name,
        description=m.description or "",
        creation_timestamp=m.creation_timestamp,
        last_updated_timestamp=m.last_updated_timestamp,
        tags=dict(m.tags or {}),
        aliases={str(alias): str(version) for alias, version in (m.aliases or {}).items()},
        latest_version=str(max(versions)) if versions else None,
    )


# --- Experiments -----------------------------------------------------------------------------
def iter_experiments(*, include_deleted: bool = False, filter_string: str | None = None) -> Iterator[Experiment]:
    view = ViewType.ALL if include_deleted else ViewType.ACTIVE_ONLY
    for e in _paginate(
        "search_experiments",
        client().search_experiments,
        view_type=view,
        max_results=EXPERIMENTS_PAGE_SIZE,
        filter_string=filter_string,
    ):
        yield _experiment(e)


def get_experiment(experiment_id: str) -> Experiment:
    return _experiment(_call("get_experiment", client().get_experiment, str(experiment_id)))


def get_experiment_by_name(name: str) -> Experiment | None:
    found = _call("get_experiment_by_name", client().get_experiment_by_name, name)
    return _experiment(found) if found is not None else None


def create_experiment(name: str, *, tags: dict[str, str] | None = None, artifact_location: str | None = None) -> str:
    return str(
        _call("create_experiment", client().create_experiment, name, artifact_location=artifact_location, tags=tags)
    )


def rename_experiment(experiment_id: str, new_name: str) -> None:
    _call("rename_experiment", client().rename_experiment, str(experiment_id), new_name)


def delete_experiment(experiment_id: str) -> None:
    _call("delete_experiment", client().delete_experiment, str(experiment_id))


def set_experiment_tag(experiment_id: str, key: str, value: str) -> None:
    _call("set_experiment_tag", client().set_experiment_tag, str(experiment_id), key, value)


# --- Runs ------------------------------------------------------------------------------------
def iter_runs(
    experiment_ids: list[str],
    *,
    filter_string: str = "",
    order_by: list[str] | None = None,
    include_deleted: bool = False,
    page_size: int = RUNS_PAGE_SIZE,
) -> Iterator[Run]:
    """Every matching run across all pages, streamed page by page (memory stays one page)."""
    if not experiment_ids:
        return
    view = ViewType.ALL if include_deleted else ViewType.ACTIVE_ONLY
    for r in _paginate(
        "search_runs",
        client().search_runs,
        experiment_ids=[str(i) for i in experiment_ids],
        filter_string=filter_string,
        run_view_type=view,
        max_results=page_size,
        order_by=order_by,
    ):
        yield _run(r)


def get_run(run_id: str) -> Run:
    return _run(_call("get_run", client().get_run, run_id))


def create_run(
    experiment_id: str,
    *,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    start_time: int | None = None,
) -> str:
    run = _call(
        "create_run", client().create_run, str(experiment_id), start_time=start_time, tags=tags, run_name=run_name
    )
    return str(run.info.run_id)


def set_run_tag(run_id: str, key: str, value: str) -> None:
    _call("set_tag", client().set_tag, run_id, key, value)


def log_batch(
    run_id: str,
    *,
    metrics: list[tuple[str, float, int, int]] = (),  # type: ignore[assignment]
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """metrics: (key, value, timestamp_ms, step) tuples."""
    from mlflow.entities import Metric, Param, RunTag

    _call(
        "log_batch",
        client().log_batch,
        run_id,
        metrics=[Metric(k, v, ts, step) for k, v, ts, step in metrics],
        params=[Param(k, str(v)) for k, v in (params or {}).items()],
        tags=[RunTag(k, str(v)) for k, v in (tags or {}).items()],
    )


def set_terminated(run_id: str, *, status: str = "FINISHED", end_time: int | None = None) -> None:
    _call("set_terminated", client().set_terminated, run_id, status=status, end_time=end_time)


def delete_run(run_id: str) -> None:
    _call("delete_run", client().delete_run, run_id)


def get_metric_history(run_id: str, key: str) -> list[MetricPoint]:
    history = _call("get_metric_history", client().get_metric_history, run_id, key)
    return sorted(
        (MetricPoint(int(m.step), float(m.value), int(m.timestamp)) for m in history),
        key=lambda p: (p.step, p.timestamp),
    )


def list_artifacts(run_id: str, path: str | None = None) -> list[tuple[str, bool, int | None]]:
    """(path, is_dir, file_size) of one artifact folder level."""
    return [(a.path, a.is_dir, a.file_size) for a in _call("list_artifacts", client().list_artifacts, run_id, path)]


# --- Registry --------------------------------------------------------------------------------
def iter_registered_models(*, filter_string: str | None = None) -> Iterator[RegisteredModel]:
    for m in _paginate(
        "search_registered_models",
        client().search_registered_models,
        filter_string=filter_string,
        max_results=MODELS_PAGE_SIZE,
    ):
        yield _model(m)


def get_registered_model(name: str) -> RegisteredModel:
    return _model(_call("get_registered_model", client().get_registered_model, name))


def create_registered_model(name: str, *, tags: dict[str, str] | None = None, description: str = "") -> None:
    _call("create_registered_model", client().create_registered_model, name, tags=tags, description=description)


def iter_model_versions(*, name: str | None = None, filter_string: str | None = None) -> Iterator[ModelVersion]:
    """All versions (of one model when `name` is given), across all pages."""
    if name is not None:
        escaped = name.replace("'", "\\'")
        filter_string = f"name='{escaped}'" + (f" AND {filter_string}" if filter_string else "")
    for v in _paginate(
        "search_model_versions",
        client().search_model_versions,
        filter_string=filter_string,
        max_results=VERSIONS_PAGE_SIZE,
    ):
        yield _version(v)


def get_model_version(name: str, version: str | int) -> ModelVersion:
    return _version(_call("get_model_version", client().get_model_version, name, str(version)))


def get_model_version_by_alias(name: str, alias: str) -> ModelVersion | None:
    try:
        return _version(_call("get_model_version_by_alias", client().get_model_version_by_alias, name, alias))
    except MlflowNotFound:
        return None
    except MlflowInvalid as exc:  # some servers answer INVALID_PARAMETER_VALUE for an unknown alias
        if "alias" in str(exc).lower():
            return None
        raise


def create_model_version(
    name: str, *, source: str, run_id: str | None = None, tags: dict[str, str] | None = None, description: str = ""
) -> ModelVersion:
    return _version(
        _call(
            "create_model_version",
            client().create_model_version,
            name,
            source,
            run_id=run_id,
            tags=tags,
            description=description,
        )
    )


def register_model_version(name: str, model_uri: str) -> ModelVersion:
    """Register a logged model (`models:/m-…` or `runs:/<run>/model`) as a new version of `name`."""
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_registry_uri(tracking_uri())
    return _version(_call("register_model", mlflow.register_model, model_uri, name))


def set_model_alias(name: str, alias: str, version: str | int) -> None:
    _call("set_registered_model_alias", client().set_registered_model_alias, name, alias, str(version))


def delete_model_alias(name: str, alias: str) -> None:
    _call("delete_registered_model_alias", client().delete_registered_model_alias, name, alias)


def set_model_version_tag(name: str, version: str | int, key: str, value: str) -> None:
    _call("set_model_version_tag", client().set_model_version_tag, name, str(version), key, value)


def delete_model_version_tag(name: str, version: str | int, key: str) -> None:
    _call("delete_model_version_tag", client().delete_model_version_tag, name, str(version), key)


def delete_model_version(name: str, version: str | int) -> None:
    _call("delete_model_version", client().delete_model_version, name, str(version))


def set_registered_model_tag(name: str, key: str, value: str) -> None:
    _call("set_registered_model_tag", client().set_registered_model_tag, name, key, value)


# --- Models (logging and loading real pyfunc models) -------------------------------------------
class ConstantScoreModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """A tiny real pyfunc model: returns its configured score for every input row."""

    def __init__(self, score: float) -> None:
        self.score = score

    def predict(
        self, context: Any, model_input: list[list[float]], params: dict[str, Any] | None = None
    ) -> list[float]:
        return [self.score] * len(model_input)


def log_constant_model(run_id: str, *, score: float, name: str = "model") -> str:
    """Log a tiny pyfunc model into an existing run; returns the model URI to register."""

    def log() -> str:
        with mlflow.start_run(run_id=run_id):
            info = mlflow.pyfunc.log_model(name=name, python_model=ConstantScoreModel(score), pip_requirements=[])
        return str(info.model_uri)

    mlflow.set_tracking_uri(tracking_uri())
    return _call("log_model", log)


def load_pyfunc(model_uri: str) -> Any:
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_registry_uri(tracking_uri())
    return _call("load_model", mlflow.pyfunc.load_model, model_uri)


# --- Server ----------------------------------------------------------------------------------
def _auth() -> tuple[str, str] | None:
    if settings.MLFLOW_TRACKING_USERNAME:
        return (settings.MLFLOW_TRACKING_USERNAME, settings.MLFLOW_TRACKING_PASSWORD)
    return None


def server_get(path: str, *, authenticated: bool = True, timeout: float | None = None) -> requests.Response:
    """A raw GET against the tracking server (health, version, auth probes)."""
    url = tracking_uri().rstrip("/") + path
    try:
        return requests.get(
            url, auth=_auth() if authenticated else None, timeout=timeout or settings.MLFLOW_REQUEST_TIMEOUT
        )
    except requests.exceptions.RequestException as exc:
        raise translate_error(exc, f"GET {path}") from exc


def server_health(*, timeout: float = 3.0) -> bool:
    try:
        return server_get("/health", timeout=timeout).status_code == 200
    except MlflowUnavailable:
        return False


def server_version() -> str:
    response = server_get("/version")
    if response.status_code != 200:
        raise MlflowError(f"GET /version answered {response.status_code}", operation="version")
    return response.text.strip()


def client_version() -> str:
    return str(mlflow.__version__)


def timed_call(operation: Callable[[], Any]) -> float:
    """Milliseconds one gateway call took (used by the latency probe)."""
    start = time.perf_counter()
    operation()
    return (time.perf_counter() - start) * 1000.0


def run_gc(
    *, backend_store_uri: str, run_ids: list[str], artifacts_destination: str | None = None, timeout: float = 3600
) -> subprocess.CompletedProcess[str]:
    """`mlflow gc` for exactly these (already soft-deleted) runs."""
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "gc",
        "--backend-store-uri",
        backend_store_uri,
        "--run-ids",
        ",".join(run_ids),
    ]
    if artifacts_destination:
        command += ["--artifacts-destination", artifacts_destination]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri()},
    )


# --- Maintenance (cleanup, reaper, capacity): additions ---------------------------------------
def logged_model_source_run(model_id: str) -> str | None:
    """The run that produced a logged model (`models:/m-…` version sources), or None if unknown."""
    try:
        logged = _call("get_logged_model", client().get_logged_model, model_id)
    except (MlflowNotFound, MlflowInvalid):
        return None
    return str(logged.source_run_id) if getattr(logged, "source_run_id", None) else None


def model_version_sources(*, store_uri: str = "") -> Iterator[tuple[str | None, str | None]]:
    """(run_id, source) of every registered model version; with `store_uri` read from the backend store
    (read-only) instead of REST. Raises MlflowError (BackendStoreError when the store read fails)."""
    from mlopsadmin.lib import mlflow_store

    if store_uri:
        yield from _store_rows(mlflow_store.iter_model_version_sources(store_uri))
        return
    for version in iter_model_versions():
        yield version.run_id, version.source


def logged_model_source_runs(model_ids: list[str], *, store_uri: str = "") -> dict[str, str | None]:
    """{model_id: source run id or None} of logged models (`m-…`); from the backend store with `store_uri`."""
    from mlopsadmin.lib import mlflow_store

    if store_uri:
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


def backend_store_unusable_reason(uri: str) -> str:
    """'' when planning can read the backend store directly (reachable, and its schema revision is the
    installed MLflow's head), otherwise why not (the caller then uses the tracking API)."""
    from mlopsadmin.lib import mlflow_store

    try:
        mlflow_store.store_check(uri)
    except mlflow_store.StoreUnusable as exc:
        return str(exc)
    return ""


def iter_store_cleanup_runs(
    uri: str, experiment_ids: list[str], *, statuses: list[str], cutoff_ms: int, tag_keys: tuple[str, ...]
) -> Iterator[Run]:
    """What the tracking-API plan queries return, read from the backend store: active runs of these
    experiments with a status in `statuses` that ended before the cutoff, and RUNNING runs started
    before it; ordered by experiment. The runs carry only the `tag_keys` tags (no params, metrics or
    artifact URI)."""
    from mlopsadmin.lib import mlflow_store

    if not all(str(i).isdigit() for i in experiment_ids):
        raise BackendStoreError("experiment ids are not numeric: not an MLflow SQL store", operation="backend store")
    rows = mlflow_store.iter_cleanup_rows(
        uri, [int(i) for i in experiment_ids], statuses=statuses, cutoff_ms=cutoff_ms, tag_keys=tag_keys
    )
    for row in _store_rows(rows):
        run_id, experiment_id, name, status, start_time, end_time, *values = row
        yield Run(
            run_id=run_id,
            experiment_id=str(experiment_id),
            run_name=name or "",
            status=status,
            start_time=start_time,
            end_time=end_time,
            lifecycle_stage="active",
            artifact_uri="",
            tags={key: value or "" for key, value in zip(tag_keys, values, strict=True) if value is not None},
        )


def search_runs_page(
    experiment_ids: list[str],
    *,
    filter_string: str = "",
    order_by: list[str] | None = None,
    max_results: int = RUNS_PAGE_SIZE,
    page_token: str | None = None,
) -> tuple[list[Run], str | None]:
    """ONE page of search_runs (bench/: the guide's single-call cleanup script is measured with it)."""
    page = _call(
        "search_runs",
        client().search_runs,
        experiment_ids=[str(i) for i in experiment_ids],
        filter_string=filter_string,
        run_view_type=ViewType.ACTIVE_ONLY,
        max_results=max_results,
        order_by=order_by,
        page_token=page_token,
    )
    return [_run(r) for r in page], page.token or None


# --- end Maintenance additions ---------------------------------------------------------------
