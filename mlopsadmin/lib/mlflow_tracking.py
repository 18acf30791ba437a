"""MLflow tracking calls: experiments, runs, metric history (purges: mlflow_purge.py).

Part of the MLflow gateway (`mlopsadmin/lib/mlflow_client.py` is its public face; callers use
`mlflow_client`, not this module). Every `iter_*` walks all pages (no silent `max_results` cap); every
failure is raised as an `MlflowError` (mlflow_errors.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from mlopsadmin.lib import mlflow_filters
from mlopsadmin.lib.mlflow_connection import client
from mlopsadmin.lib.mlflow_errors import call, paginate
from mlopsadmin.lib.mlflow_records import Experiment, MetricPoint, Run, RunActivity, experiment_record, run_record

RUNS_PAGE_SIZE = 1000
EXPERIMENTS_PAGE_SIZE = 1000


# --- Experiments -----------------------------------------------------------------------------
def iter_experiments(
    *, include_deleted: bool = False, filter_string: str | None = None, where: dict[str, str] | None = None
) -> Iterator[Experiment]:
    """All experiments (all pages). `where` maps `name` / `tags.<key>` to an exact value, quoted by
    mlflow_filters (any name or tag value works)."""
    from mlflow.entities import ViewType  # lazily: see mlflow_connection

    view = ViewType.ALL if include_deleted else ViewType.ACTIVE_ONLY
    filter_string, inexact = mlflow_filters.build(where, filter_string)
    pages = paginate(
        "search_experiments",
        client().search_experiments,
        view_type=view,
        max_results=EXPERIMENTS_PAGE_SIZE,
        filter_string=filter_string,
    )
    yield from mlflow_filters.keep_matching((experiment_record(e) for e in pages), inexact)


def get_experiment(experiment_id: str) -> Experiment:
    return experiment_record(call("get_experiment", client().get_experiment, str(experiment_id)))


def get_experiment_by_name(name: str) -> Experiment | None:
    found = call("get_experiment_by_name", client().get_experiment_by_name, name)
    return experiment_record(found) if found is not None else None


def create_experiment(name: str, *, tags: dict[str, str] | None = None, artifact_location: str | None = None) -> str:
    return str(
        call("create_experiment", client().create_experiment, name, artifact_location=artifact_location, tags=tags)
    )


def rename_experiment(experiment_id: str, new_name: str) -> None:
    call("rename_experiment", client().rename_experiment, str(experiment_id), new_name)


def delete_experiment(experiment_id: str) -> None:
    call("delete_experiment", client().delete_experiment, str(experiment_id))


# --- Runs ------------------------------------------------------------------------------------
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
    from mlflow.entities import ViewType  # lazily: see mlflow_connection

    view = ViewType.DELETED_ONLY if deleted_only else ViewType.ALL if include_deleted else ViewType.ACTIVE_ONLY
    for r in paginate(
        "search_runs",
        client().search_runs,
        experiment_ids=[str(i) for i in experiment_ids],
        filter_string=filter_string,
        run_view_type=view,
        max_results=page_size,
        order_by=order_by,
    ):
        yield run_record(r)


def get_run(run_id: str) -> Run:
    return run_record(call("get_run", client().get_run, run_id))


def create_run(
    experiment_id: str,
    *,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    start_time: int | None = None,
) -> str:
    run = call(
        "create_run", client().create_run, str(experiment_id), start_time=start_time, tags=tags, run_name=run_name
    )
    return str(run.info.run_id)


def set_run_tag(run_id: str, key: str, value: str) -> None:
    call("set_tag", client().set_tag, run_id, key, value)


def log_batch(
    run_id: str,
    *,
    metrics: list[tuple[str, float, int, int]] = (),  # type: ignore[assignment]
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """metrics: (key, value, timestamp_ms, step) tuples."""
    from mlflow.entities import Metric, Param, RunTag

    call(
        "log_batch",
        client().log_batch,
        run_id,
        metrics=[Metric(k, v, ts, step) for k, v, ts, step in metrics],
        params=[Param(k, str(v)) for k, v in (params or {}).items()],
        tags=[RunTag(k, str(v)) for k, v in (tags or {}).items()],
    )


def set_terminated(run_id: str, *, status: str = "FINISHED", end_time: int | None = None) -> None:
    call("set_terminated", client().set_terminated, run_id, status=status, end_time=end_time)


def delete_run(run_id: str) -> None:
    call("delete_run", client().delete_run, run_id)


def restore_run(run_id: str) -> None:
    """Undo a soft delete (the run becomes active again)."""
    call("restore_run", client().restore_run, run_id)


def get_metric_history(run_id: str, key: str) -> list[MetricPoint]:
    history = call("get_metric_history", client().get_metric_history, run_id, key)
    return sorted(
        (MetricPoint(int(m.step), float(m.value), int(m.timestamp)) for m in history),
        key=lambda p: (p.step, p.timestamp),
    )


def run_activity(run: Run) -> RunActivity:
    """When `run` last did something, through the tracking API: the full history of every metric it has
    (one `get_metric_history` per key; MLflow's latest value of a key is its highest step, so a resumed run
    logging lower steps again would hide its newest writes) and the logged models whose source run it is
    (`search_logged_models`, MLflow 3)."""
    newest_metric: int | None = None
    for key in run.metric_timestamps:
        for point in get_metric_history(run.run_id, key):
            newest_metric = max(newest_metric or 0, point.timestamp)
    newest_model: int | None = None
    for model in paginate(
        "search_logged_models",
        client().search_logged_models,
        experiment_ids=[run.experiment_id],
        filter_string=f"source_run_id = '{run.run_id}'",
    ):
        stamp = model.last_updated_timestamp or model.creation_timestamp
        newest_model = max(newest_model or 0, int(stamp)) if stamp else newest_model
    return RunActivity(run_id=run.run_id, last_metric_time=newest_metric, last_model_time=newest_model)
