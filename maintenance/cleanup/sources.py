"""Where a cleanup plan lists runs from: MLflow's backend store read-only when it is usable (fast
path), else the tracking API (all pages, chunks of experiments fetched in parallel). Both put the same
runs, with each run's estimated artifact size, on a bounded queue the planner consumes."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings

from maintenance import storage
from maintenance.cleanup.protection import PROTECTING_TAGS
from maintenance.models import CleanupPlan
from mlopsadmin.lib import mlflow_client as mlf

logger = logging.getLogger(__name__)

SOURCE_STORE = "backend store (read-only)"
SOURCE_API = "tracking API"
CHUNK_EXPERIMENTS = 50  # at most this many experiments per fetch thread


def stream_api(
    plan: CleanupPlan, out: queue.Queue[Any], stop: threading.Event
) -> Callable[[list[mlf.Experiment]], None]:
    """The fetch side of planning: for a chunk of experiments, the candidates (server-filtered by status
    and end time) and the old RUNNING runs, put on a bounded queue page by page with each run's
    estimated artifact size."""
    page_size = settings.MAINTENANCE_RUNS_PAGE_SIZE
    # The server filters (status equality only: MLflow allows IN lists for run_id alone).
    queries = [f"attributes.status = '{status}' AND attributes.end_time < {plan.cutoff_ms}" for status in plan.statuses]
    queries.append(f"attributes.status = 'RUNNING' AND attributes.start_time < {plan.cutoff_ms}")

    def fetch(chunk: list[mlf.Experiment]) -> None:
        # One experiment per query: each result set stays small, so the server never sorts and
        # offsets through a huge multi-experiment result page after page.
        try:
            for experiment in chunk:
                sizes: dict[str, int] | None = None
                sized = False
                for query in queries:
                    batch: list[tuple[mlf.Run, int | None]] = []
                    for mrun in mlf.iter_runs([experiment.experiment_id], filter_string=query, page_size=page_size):
                        if stop.is_set():
                            return
                        if not sized:
                            sizes, sized = _run_sizes(experiment), True
                        batch.append((mrun, None if sizes is None else sizes.get(mrun.run_id, 0)))
                        if len(batch) >= page_size:
                            out.put(("runs", batch))
                            batch = []
                    if batch:
                        out.put(("runs", batch))
                out.put(("done", 1))
        except Exception as exc:  # handed to the consuming thread, which decides
            out.put(("error", exc))

    return fetch


def _run_sizes(experiment: mlf.Experiment) -> dict[str, int] | None:
    try:
        return storage.sizes_by_run(storage.resolve(experiment.artifact_location))
    except Exception as exc:  # a size estimate must never stop a plan
        logger.warning("artifact sizes of experiment %s unavailable: %s", experiment.experiment_id, exc)
        return None


def chunks(experiments: list[mlf.Experiment], parallelism: int) -> list[list[mlf.Experiment]]:
    """The experiments split for `parallelism` fetch threads (at most CHUNK_EXPERIMENTS per chunk)."""
    size = max(1, min(CHUNK_EXPERIMENTS, -(-len(experiments) // max(1, parallelism))))
    return [experiments[i : i + size] for i in range(0, len(experiments), size)]


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
                uri, list(by_id), statuses=plan.statuses, cutoff_ms=plan.cutoff_ms, tag_keys=PROTECTING_TAGS
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
