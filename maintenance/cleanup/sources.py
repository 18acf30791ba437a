"""Where a cleanup plan lists runs from: MLflow's backend store read-only when it is usable (fast
path), else the tracking API (all pages, two server-filtered queries per chunk of experiments, chunks
fetched in parallel). Both put the same runs, with each run's estimated artifact size, on a bounded queue
the planner consumes."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings

from maintenance import storage
from maintenance.cleanup.protection import KEEP_TAG, PROTECTING_TAGS
from maintenance.models import CleanupPlan
from mlopsadmin.lib import mlflow_client as mlf

logger = logging.getLogger(__name__)

SOURCE_STORE = "backend store (read-only)"
SOURCE_API = "tracking API"
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")  # MLflow's RunStatus
CHUNK_RUNS = 5000  # runs one chunk of experiments is expected to hold (catalog counts): a few result pages
CHUNK_EXPERIMENTS = 100  # and at most this many experiments in one query
UNKNOWN_RUN_COUNT = 200  # what an experiment the catalog has not counted is expected to hold


def plan_queries(statuses: list[str], cutoff_ms: int) -> list[str]:
    """The server-side filters of a plan: the chosen statuses ended before the cutoff, in ONE query —
    MLflow's filter grammar has AND only and IN for run ids alone, so the statuses are written as the
    exclusion of the others —, and the RUNNING runs started before it (kept, listed as exclusions)."""
    others = [f"attributes.status != '{s}'" for s in RUN_STATUSES if s not in statuses]
    return [
        " AND ".join([*others, f"attributes.end_time < {int(cutoff_ms)}"]),
        f"attributes.status = 'RUNNING' AND attributes.start_time < {int(cutoff_ms)}",
    ]


def stream_api(
    plan: CleanupPlan, out: queue.Queue[Any], stop: threading.Event
) -> Callable[[list[mlf.Experiment]], None]:
    """The fetch side of planning through the tracking API: for a chunk of experiments, the candidates and
    the old RUNNING runs (plan_queries: filtered by the server, whatever the number of statuses), put on a
    bounded queue page by page with each run's estimated artifact size, then one "done" per experiment."""
    page_size = settings.MAINTENANCE_RUNS_PAGE_SIZE
    queries = plan_queries(plan.statuses, plan.cutoff_ms)

    def fetch(chunk: list[mlf.Experiment]) -> None:
        by_id = {e.experiment_id: e for e in chunk}
        sizes: dict[str, dict[str, int] | None] = {}
        try:
            for query in queries:
                batch: list[tuple[mlf.Run, int | None]] = []
                for mrun in mlf.iter_runs(list(by_id), filter_string=query, page_size=page_size):
                    if stop.is_set():
                        return
                    if mrun.experiment_id not in sizes:  # only experiments with a listed run are walked
                        sizes[mrun.experiment_id] = _run_sizes(by_id[mrun.experiment_id])
                    known = sizes[mrun.experiment_id]
                    batch.append((mrun, None if known is None else known.get(mrun.run_id, 0)))
                    if len(batch) >= page_size:
                        out.put(("runs", batch))
                        batch = []
                if batch:
                    out.put(("runs", batch))
            out.put(("done", len(chunk)))
        except Exception as exc:  # handed to the consuming thread, which decides
            out.put(("error", exc))

    return fetch


def _run_sizes(experiment: mlf.Experiment) -> dict[str, int] | None:
    try:
        return storage.sizes_by_run(storage.resolve(experiment.artifact_location))
    except Exception as exc:  # a size estimate must never stop a plan
        logger.warning("artifact sizes of experiment %s unavailable: %s", experiment.experiment_id, exc)
        return None


def chunks(
    experiments: list[mlf.Experiment], parallelism: int, run_counts: dict[str, int] | None = None
) -> list[list[mlf.Experiment]]:
    """The experiments split into queries for `parallelism` fetch threads: each chunk expected to hold at
    most CHUNK_RUNS runs (`run_counts`: the catalog's, UNKNOWN_RUN_COUNT for an experiment it has not
    counted) and CHUNK_EXPERIMENTS experiments, and at least `parallelism` chunks when there is enough work,
    so result pages stay few (MLflow pages by offset) and the server's workers share the load."""
    counts = run_counts or {}

    def expected(experiment: mlf.Experiment) -> int:
        return max(1, counts.get(experiment.experiment_id, UNKNOWN_RUN_COUNT))

    total = sum(expected(e) for e in experiments)
    target = max(1, min(CHUNK_RUNS, -(-total // max(1, parallelism))))
    result: list[list[mlf.Experiment]] = []
    current: list[mlf.Experiment] = []
    held = 0
    for experiment in experiments:
        if current and (held + expected(experiment) > target or len(current) >= CHUNK_EXPERIMENTS):
            result.append(current)
            current, held = [], 0
        current.append(experiment)
        held += expected(experiment)
    if current:
        result.append(current)
    return result


def stream_store(
    plan: CleanupPlan, out: queue.Queue[Any], stop: threading.Event
) -> Callable[[list[mlf.Experiment]], None]:
    """The fetch side of planning from the backend store (read-only): one streamed query over the
    scope's experiments, ordered by experiment, the same runs the tracking-API queries return; put on
    the same bounded queue in batches, one "done" per experiment."""
    uri = settings.MLFLOW_BACKEND_STORE_URI
    page_size = settings.MAINTENANCE_RUNS_PAGE_SIZE

    def fetch(experiments: list[mlf.Experiment]) -> None:
        by_id = {e.experiment_id: e for e in experiments}
        current, sizes, finished = "", None, 0
        batch: list[tuple[mlf.Run, int | None]] = []
        try:
            for mrun in mlf.iter_store_cleanup_runs(
                uri,
                list(by_id),
                statuses=plan.statuses,
                cutoff_ms=plan.cutoff_ms,
                tag_keys=PROTECTING_TAGS,
                folded_key=KEEP_TAG,
            ):
                if stop.is_set():
                    return
                if mrun.experiment_id != current or len(batch) >= page_size:
                    if batch:
                        out.put(("runs", batch))
                        batch = []
                    if mrun.experiment_id != current:
                        if current:
                            out.put(("done", 1))
                            finished += 1
                        current, sizes = mrun.experiment_id, _run_sizes(by_id[mrun.experiment_id])
                batch.append((mrun, None if sizes is None else sizes.get(mrun.run_id, 0)))
            if batch:
                out.put(("runs", batch))
            out.put(("done", len(experiments) - finished))
        except Exception as exc:  # handed to the consuming thread, which decides
            out.put(("error", exc))

    return fetch


def plan_source() -> tuple[str, str]:
    """(source, note): the backend store when it is configured, reachable and on the installed MLflow's
    schema revision; otherwise the tracking API, and why."""
    if not settings.MAINTENANCE_PLAN_READ_STORE:
        return SOURCE_API, "MAINTENANCE_PLAN_READ_STORE is off"
    why = mlf.backend_store_unusable_reason(settings.MLFLOW_BACKEND_STORE_URI)
    if why:
        logger.info("cleanup plan: listing runs through the tracking API: %s", why)
        return SOURCE_API, why
    return SOURCE_STORE, ""
