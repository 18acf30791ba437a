"""When runs last did something, through the tracking API, for a batch of runs at once (the reaper's
confirmation of its suspects; issue 20). Part of the MLflow gateway (`mlflow_client.runs_activity` is its
public face; callers never import this module).

Per batch, instead of four calls per run:
- metric values: one `get-history-bulk` call (the route MLflow's UI uses, up to 100 runs and one key per call,
  every value of that key for those runs) per metric key and 100 runs; an answer that may have been cut at
  its row limit is completed run by run (`get_metric_history`, all pages), and so is everything when the
  server has no such route (404);
- logged models and traces: one probe per kind over the batch's experiments (`max_results=1`); only when it
  finds something are the experiments probed one by one, and the runs of the experiments that hold any are
  then searched one by one as before (`search_logged_models` by `source_run_id`, the trace search by
  `mlflow.sourceRun`). An experiment without any logged model or trace gives its runs none: the same answer
  the per-run searches give, in one call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlencode

from mlopsadmin.lib import mlflow_tracking
from mlopsadmin.lib.mlflow_errors import MlflowNotFound
from mlopsadmin.lib.mlflow_records import Run, RunActivity
from mlopsadmin.lib.mlflow_rest import AJAX_API, request

BULK_RUNS = 100  # run ids per get-history-bulk call (MLflow's limit)
BULK_QUERY_CHARS = 3000  # and its query string at most this long (gunicorn refuses request lines over 4094 bytes)
BULK_ROWS = 25000  # rows one get-history-bulk answer holds at most (MLflow's limit)
T = TypeVar("T")


def _pool_map(fn: Callable[[Any], T], items: list[Any], workers: int) -> list[T]:
    if len(items) <= 1 or workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="activity") as pool:
        return list(pool.map(fn, items))


def _newest(stamps: Iterable[int], not_after_ms: int | None) -> int | None:
    kept = [s for s in stamps if s and (not_after_ms is None or s <= not_after_ms)]
    return max(kept) if kept else None


def bulk_batches(run_ids: list[str], key: str) -> list[list[str]]:
    """`run_ids` split for get-history-bulk calls on `key`: at most BULK_RUNS each, and each call's query
    string (`run_id=…&…&metric_key=…&max_results=…`, URL-encoded) at most BULK_QUERY_CHARS long — a key too
    long for even one run alongside it still gets its own call per run."""
    fixed = len(urlencode({"metric_key": key, "max_results": BULK_ROWS})) + 1
    batches: list[list[str]] = []
    current: list[str] = []
    length = fixed
    for run_id in run_ids:
        size = len(urlencode({"run_id": run_id})) + 1
        if current and (len(current) >= BULK_RUNS or length + size > BULK_QUERY_CHARS):
            batches.append(current)
            current, length = [], fixed
        current.append(run_id)
        length += size
    if current:
        batches.append(current)
    return batches


def _history_bulk(run_ids: list[str], key: str) -> list[dict[str, Any]] | None:
    """Every value of `key` for these runs (≤ BULK_RUNS), sorted by run id; None when the server has no
    bulk route (then ask run by run)."""
    body = {"run_id": run_ids, "metric_key": key, "max_results": BULK_ROWS}
    try:
        answer = request("get_metric_history_bulk", "GET", "/metrics/get-history-bulk", body, api=AJAX_API)
    except MlflowNotFound:
        return None
    return list(answer.get("metrics") or [])


def _metric_times(runs: list[Run], not_after_ms: int | None, workers: int) -> dict[str, int | None]:
    """run id → newest metric value time (≤ not_after_ms) over every key the run was listed with."""
    newest: dict[str, int | None] = {run.run_id: None for run in runs}
    jobs: list[tuple[str, list[str]]] = []
    for key in sorted({key for run in runs for key in run.metric_timestamps}):
        having = sorted(run.run_id for run in runs if key in run.metric_timestamps)
        jobs += [(key, batch) for batch in bulk_batches(having, key)]

    def one(job: tuple[str, list[str]]) -> dict[str, list[int]]:
        key, ids = job
        rows = _history_bulk(ids, key)
        complete = set(ids)
        found: dict[str, list[int]] = {run_id: [] for run_id in ids}
        if rows is None:
            complete = set()
        else:
            for row in rows:
                found.setdefault(str(row.get("run_id")), []).append(int(row.get("timestamp") or 0))
            if len(rows) >= BULK_ROWS:  # maybe cut: the last run listed and those after it are read one by one
                last = str(rows[-1].get("run_id"))
                complete = {run_id for run_id in ids if run_id < last}
        for run_id in ids:
            if run_id not in complete:
                found[run_id] = [p.timestamp for p in mlflow_tracking.get_metric_history(run_id, key)]
        return found

    for found in _pool_map(one, jobs, workers):
        for run_id, stamps in found.items():
            if run_id in newest:
                times = [t for t in (newest[run_id], _newest(stamps, not_after_ms)) if t]
                newest[run_id] = max(times) if times else None
    return newest


def _logged_models_probe(experiment_ids: list[str]) -> bool:
    body = {"experiment_ids": experiment_ids, "max_results": 1}
    return bool(request("search_logged_models", "POST", "/logged-models/search", body).get("models"))


def _traces_probe(experiment_ids: list[str]) -> bool:
    try:
        answer = request("search_traces", "GET", "/traces", {"experiment_ids": experiment_ids, "max_results": 1})
    except MlflowNotFound:  # a server without trace search (MLflow < 2.14): no run has traces there
        return False
    return bool(answer.get("traces"))


def _holding(experiment_ids: list[str], probe: Callable[[list[str]], bool], workers: int) -> set[str]:
    """The experiments holding at least one item `probe` finds (one call for all when none does)."""
    if not experiment_ids or not probe(experiment_ids):
        return set()
    if len(experiment_ids) == 1:
        return set(experiment_ids)
    found = _pool_map(lambda e: probe([e]), experiment_ids, workers)
    return {e for e, has in zip(experiment_ids, found, strict=True) if has}


def runs_activity(runs: list[Run], *, not_after_ms: int | None = None, workers: int = 4) -> dict[str, RunActivity]:
    """run id → RunActivity of these runs (see the module docstring for the calls), `workers` calls at a
    time. Metric values stamped after `not_after_ms` are left out. Raises MlflowError."""
    if not runs:
        return {}
    experiments = sorted({run.experiment_id for run in runs})
    metric = _metric_times(runs, not_after_ms, workers)
    with_models = _holding(experiments, _logged_models_probe, workers)
    with_traces = _holding(experiments, _traces_probe, workers)

    def models_and_traces(run: Run) -> tuple[int | None, int | None]:
        model = mlflow_tracking.last_model_time(run) if run.experiment_id in with_models else None
        trace = mlflow_tracking.last_trace_end(run) if run.experiment_id in with_traces else None
        return model, trace

    asked = [run for run in runs if run.experiment_id in with_models | with_traces]
    others = dict(zip((run.run_id for run in asked), _pool_map(models_and_traces, asked, workers), strict=True))
    return {
        run.run_id: RunActivity(
            run.run_id,
            last_metric_time=metric[run.run_id],
            last_model_time=others.get(run.run_id, (None, None))[0],
            last_trace_time=others.get(run.run_id, (None, None))[1],
        )
        for run in runs
    }
