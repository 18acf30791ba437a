"""MLflow tracking calls: experiments, runs, metric history (purges: mlflow_purge.py).

Part of the MLflow gateway (`mlopsadmin/lib/mlflow_client.py` is its public face; callers use
`mlflow_client`, not this module). Each call is one REST request through the process's transport
(mlflow_rest.py: configured once, timeouts and retries from settings); every `iter_*` walks all pages (no
silent `max_results` cap); every failure is raised as an `MlflowError` (mlflow_errors.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import quote

from mlopsadmin.lib import mlflow_filters
from mlopsadmin.lib.mlflow_errors import MlflowInvalid, MlflowNoRoute, MlflowNotFound
from mlopsadmin.lib.mlflow_records import (
    Experiment,
    MetricPoint,
    Run,
    RunActivity,
    experiment_from_json,
    run_from_json,
)
from mlopsadmin.lib.mlflow_rest import pages, request

RUNS_PAGE_SIZE = 1000
EXPERIMENTS_PAGE_SIZE = 1000
METRIC_HISTORY_PAGE_SIZE = 25000
# MLflow's limits for one log-batch request (mlflow.utils.validation)
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000


def now_ms() -> int:
    return int(time.time() * 1000)


# --- Experiments -----------------------------------------------------------------------------
def iter_experiments(
    *, include_deleted: bool = False, filter_string: str | None = None, where: dict[str, str] | None = None
) -> Iterator[Experiment]:
    """All experiments (all pages). `where` maps `name` / `tags.<key>` to an exact value, quoted by
    mlflow_filters (any name or tag value works)."""
    filter_string, inexact = mlflow_filters.build(where, filter_string)
    body = {
        "view_type": "ALL" if include_deleted else "ACTIVE_ONLY",
        "max_results": EXPERIMENTS_PAGE_SIZE,
        "filter": filter_string,
    }
    found = pages("search_experiments", "POST", "/experiments/search", body, "experiments")
    yield from mlflow_filters.keep_matching((experiment_from_json(e) for e in found), inexact)


def get_experiment(experiment_id: str) -> Experiment:
    answer = request(
        "get_experiment", "GET", "/experiments/get", {"experiment_id": str(experiment_id)}, subject=(experiment_id,)
    )
    return experiment_from_json(answer["experiment"])


def get_experiment_by_name(name: str) -> Experiment | None:
    try:
        answer = request(
            "get_experiment_by_name", "GET", "/experiments/get-by-name", {"experiment_name": name}, subject=(name,)
        )
    except MlflowNotFound:
        return None
    return experiment_from_json(answer["experiment"])


def create_experiment(name: str, *, tags: dict[str, str] | None = None, artifact_location: str | None = None) -> str:
    body = {
        "name": name,
        "artifact_location": artifact_location,
        "tags": [{"key": k, "value": str(v)} for k, v in (tags or {}).items()],
    }
    return str(request("create_experiment", "POST", "/experiments/create", body, subject=(name,))["experiment_id"])


def rename_experiment(experiment_id: str, new_name: str) -> None:
    body = {"experiment_id": str(experiment_id), "new_name": new_name}
    request("rename_experiment", "POST", "/experiments/update", body, subject=(experiment_id,))


def delete_experiment(experiment_id: str) -> None:
    body = {"experiment_id": str(experiment_id)}
    request("delete_experiment", "POST", "/experiments/delete", body, subject=(experiment_id,))


# --- Runs ------------------------------------------------------------------------------------
def run_view(*, include_deleted: bool = False, deleted_only: bool = False) -> str:
    return "DELETED_ONLY" if deleted_only else "ALL" if include_deleted else "ACTIVE_ONLY"


def iter_runs(
    experiment_ids: list[str],
    *,
    filter_string: str = "",
    order_by: list[str] | None = None,
    include_deleted: bool = False,
    deleted_only: bool = False,
    page_size: int = RUNS_PAGE_SIZE,
) -> Iterator[Run]:
    """Every matching run across all pages, streamed page by page (memory stays one page). Active runs;
    `include_deleted` adds soft-deleted ones, `deleted_only` lists only those."""
    if not experiment_ids:
        return
    body = {
        "experiment_ids": [str(i) for i in experiment_ids],
        "filter": filter_string,
        "run_view_type": run_view(include_deleted=include_deleted, deleted_only=deleted_only),
        "max_results": page_size,
        "order_by": order_by,
    }
    for run in pages("search_runs", "POST", "/runs/search", body, "runs"):
        yield run_from_json(run)


def search_runs_page(
    experiment_ids: list[str],
    *,
    filter_string: str = "",
    order_by: list[str] | None = None,
    max_results: int = RUNS_PAGE_SIZE,
    page_token: str | None = None,
) -> tuple[list[Run], str | None]:
    """ONE page of active runs (bench/: the guide's single-call cleanup script is measured with it)."""
    body = {
        "experiment_ids": [str(i) for i in experiment_ids],
        "filter": filter_string,
        "run_view_type": "ACTIVE_ONLY",
        "max_results": max_results,
        "order_by": order_by,
        "page_token": page_token,
    }
    answer = request("search_runs", "POST", "/runs/search", body)
    return [run_from_json(r) for r in answer.get("runs") or []], answer.get("next_page_token") or None


def get_run(run_id: str) -> Run:
    return run_from_json(request("get_run", "GET", "/runs/get", {"run_id": run_id}, subject=(run_id,))["run"])


def create_run(
    experiment_id: str,
    *,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    start_time: int | None = None,
) -> str:
    """A new RUNNING run (start_time defaults to now; user_id from the `mlflow.user` tag, as MLflow's client)."""
    tags = dict(tags or {})
    body = {
        "experiment_id": str(experiment_id),
        "user_id": tags.get("mlflow.user", "unknown"),
        "start_time": start_time or now_ms(),
        "tags": [{"key": k, "value": str(v)} for k, v in tags.items()],
        "run_name": run_name,
    }
    answer = request("create_run", "POST", "/runs/create", body, subject=(experiment_id,))
    return str(answer["run"]["info"]["run_id"])


def set_run_tag(run_id: str, key: str, value: str) -> None:
    body = {"run_id": run_id, "run_uuid": run_id, "key": key, "value": str(value)}
    request("set_tag", "POST", "/runs/set-tag", body, subject=(run_id,))


def _batches(
    metrics: list[dict[str, object]], params: list[dict[str, str]], tags: list[dict[str, str]]
) -> Iterator[tuple[list[dict[str, object]], list[dict[str, str]], list[dict[str, str]]]]:
    """log-batch requests within MLflow's limits (100 params, 100 tags, 1,000 metrics, 1,000 in all)."""
    while params or tags or metrics:
        p, params = params[:MAX_PARAMS_TAGS_PER_BATCH], params[MAX_PARAMS_TAGS_PER_BATCH:]
        t, tags = tags[:MAX_PARAMS_TAGS_PER_BATCH], tags[MAX_PARAMS_TAGS_PER_BATCH:]
        room = min(MAX_ENTITIES_PER_BATCH - len(p) - len(t), MAX_METRICS_PER_BATCH)
        m, metrics = metrics[:room], metrics[room:]
        yield m, p, t


def log_batch(
    run_id: str,
    *,
    metrics: list[tuple[str, float, int, int]] = (),  # type: ignore[assignment]
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """metrics: (key, value, timestamp_ms, step) tuples (NaN and ±inf allowed)."""
    metric_items: list[dict[str, object]] = [
        {"key": k, "value": float(v), "timestamp": int(ts), "step": int(step)} for k, v, ts, step in metrics
    ]
    param_items = [{"key": k, "value": str(v)} for k, v in (params or {}).items()]
    tag_items = [{"key": k, "value": str(v)} for k, v in (tags or {}).items()]
    for m, p, t in _batches(metric_items, param_items, tag_items):
        body = {"run_id": run_id, "metrics": m, "params": p, "tags": t}
        request("log_batch", "POST", "/runs/log-batch", body, subject=(run_id,))


def set_terminated(run_id: str, *, status: str = "FINISHED", end_time: int | None = None) -> None:
    """End a run with `status` (end_time defaults to now). One request (MLflow's client adds a get_run)."""
    body = {"run_id": run_id, "run_uuid": run_id, "status": status or "FINISHED", "end_time": end_time or now_ms()}
    request("set_terminated", "POST", "/runs/update", body, subject=(run_id,))


def delete_run(run_id: str) -> None:
    request("delete_run", "POST", "/runs/delete", {"run_id": run_id}, subject=(run_id,))


def restore_run(run_id: str) -> None:
    """Undo a soft delete (the run becomes active again)."""
    request("restore_run", "POST", "/runs/restore", {"run_id": run_id}, subject=(run_id,))


def get_metric_history(run_id: str, key: str) -> list[MetricPoint]:
    """Every logged value of one metric of a run (all pages), by step then time."""
    body = {"run_id": run_id, "run_uuid": run_id, "metric_key": key, "max_results": METRIC_HISTORY_PAGE_SIZE}
    points = pages("get_metric_history", "GET", "/metrics/get-history", body, "metrics", subject=(run_id,))
    return sorted(
        (MetricPoint(int(m.get("step", 0)), float(m.get("value", "NaN")), int(m.get("timestamp", 0))) for m in points),
        key=lambda p: (p.step, p.timestamp),
    )


def run_activity(run: Run, *, not_after_ms: int | None = None) -> RunActivity:
    """When `run` last did something, through the tracking API: the full history of every metric it has
    (one `get_metric_history` per key; MLflow's latest value of a key is its highest step, so a resumed run
    logging lower steps again would hide its newest writes) and the logged models whose source run it is
    (`search_logged_models`, MLflow 3), and the newest trace recorded in it (MLflow 3 GenAI runs). One run;
    mlflow_activity reads a batch of runs in far fewer calls."""
    newest_metric: int | None = None
    for key in run.metric_timestamps:
        for point in get_metric_history(run.run_id, key):
            if not_after_ms is None or point.timestamp <= not_after_ms:  # a wrong client clock is no evidence
                newest_metric = max(newest_metric or 0, point.timestamp)
    return RunActivity(
        run_id=run.run_id,
        last_metric_time=newest_metric,
        last_model_time=last_model_time(run),
        last_trace_time=last_trace_end(run),
    )


def last_model_time(run: Run) -> int | None:
    """The newest creation/update time (ms) of a logged model whose source run is `run`, None without any."""
    newest_model: int | None = None
    body = {"experiment_ids": [run.experiment_id], "filter": f"source_run_id = '{run.run_id}'", "max_results": 100}
    for model in pages("search_logged_models", "POST", "/logged-models/search", body, "models", subject=(run.run_id,)):
        info = model.get("info", {})
        stamp = info.get("last_updated_timestamp_ms") or info.get("creation_timestamp_ms")
        newest_model = max(newest_model or 0, int(stamp)) if stamp else newest_model
    return newest_model


def last_trace_end(run: Run) -> int | None:
    """The newest end (start + execution time, ms) of a trace recorded in `run` (its `mlflow.sourceRun`
    metadata), through the trace search MLflow 3 still serves under /api/2.0; None when there is none or the
    server has no trace search (MLflow < 2.14 answers 404: its Flask page, MlflowNoRoute)."""
    body = {
        "experiment_ids": [run.experiment_id],
        "filter": f"request_metadata.`mlflow.sourceRun` = '{run.run_id}'",
        "max_results": 1,
        "order_by": ["timestamp_ms DESC"],
    }
    try:
        answer = request("search_traces", "GET", "/traces", body, subject=(run.run_id,))
    except (MlflowNotFound, MlflowNoRoute):
        return None
    newest: int | None = None
    for info in answer.get("traces") or []:
        start = info.get("timestamp_ms")
        if start:
            newest = max(newest or 0, int(start) + int(info.get("execution_time_ms") or 0))
    return newest


def logged_model_source_run(model_id: str) -> str | None:
    """The run that produced a logged model (`models:/m-…` version sources), or None if unknown."""
    try:
        answer = request("get_logged_model", "GET", f"/logged-models/{quote(model_id, safe='')}", subject=(model_id,))
    except (MlflowNotFound, MlflowInvalid):
        return None
    source_run = answer.get("model", {}).get("info", {}).get("source_run_id")
    return str(source_run) if source_run else None
