"""The source runs of the registry index (registry_ui.models.IndexedRun): read from MLflow in few calls,
stored only when they changed, pruned when no indexed version names them (index_store.py writes the rest)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from django.utils import timezone

from mlopsadmin.core.formatting import json_number
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib import mlflow_filters
from registry_ui.models import IndexedRun, IndexedVersion

LINEAGE_RUN_TAGS = ("git.commit", "data.version")  # the run tags the version page shows
RUNS_PER_CALL = 100  # run ids one search_runs call fetches (run_id IN (...))
RUN_FETCH_THREADS = 2  # calls at a time: the tracking server serialises runs on its own workers (2 advised)
MISSING = "missing"  # an IndexedRun MLflow no longer has (purged)


def _run_fields(run: mlf.Run, experiment: mlf.Experiment | None, now: datetime) -> dict[str, object]:
    return {
        "experiment_id": run.experiment_id[:64],
        "experiment_name": (experiment.name if experiment else "")[:500],
        "experiment_stage": experiment.lifecycle_stage[:16] if experiment else MISSING,
        "run_name": run.run_name[:250],
        "status": run.status[:16],
        "lifecycle_stage": run.lifecycle_stage[:16],
        "artifact_uri": run.artifact_uri,
        "params": dict(run.params),
        "metrics": {k: json_number(v) for k, v in run.metrics.items()},
        "tags": {k: run.tags[k] for k in LINEAGE_RUN_TAGS if k in run.tags},
        "start_time": run.start_time,
        "end_time": run.end_time,
        "synced_at": now,
    }


RUN_FIELDS = (
    "experiment_id",
    "experiment_name",
    "experiment_stage",
    "run_name",
    "status",
    "lifecycle_stage",
    "artifact_uri",
    "params",
    "metrics",
    "tags",
    "start_time",
    "end_time",
    "synced_at",
)


def _fetch_runs(chunk: list[str], experiment_ids: list[str]) -> list[mlf.Run]:
    return list(
        mlf.iter_runs(
            experiment_ids,
            filter_string=mlflow_filters.in_list("attributes.run_id", chunk),
            include_deleted=True,
            page_size=len(chunk) + 1,
        )
    )


def runs_refresh(run_ids: list[str]) -> int:
    """Read these runs (deleted ones too) — `run_id IN (...)` over every experiment, RUNS_PER_CALL a call,
    RUN_FETCH_THREADS calls at a time — and store the ones that changed; a run MLflow no longer has is
    stored as 'missing'. Returns how many were read."""
    wanted = [r for r in run_ids if r and mlflow_filters.quote(r) is not None]
    if not wanted:
        return 0
    now = timezone.now()  # the read's start: what is stored was read from then on (index_read.as_of)
    experiments = {e.experiment_id: e for e in mlf.iter_experiments(include_deleted=True)}
    chunks = [wanted[i : i + RUNS_PER_CALL] for i in range(0, len(wanted), RUNS_PER_CALL)]
    found: dict[str, mlf.Run] = {}
    with ThreadPoolExecutor(
        max_workers=min(RUN_FETCH_THREADS, len(chunks)), thread_name_prefix="registry-runs"
    ) as pool:
        for batch in pool.map(lambda chunk: _fetch_runs(chunk, list(experiments)), chunks):
            found.update((run.run_id, run) for run in batch)
    compared = RUN_FIELDS[:-1]  # all but synced_at
    known = {row[0]: row[1:] for row in IndexedRun.objects.filter(run_id__in=wanted).values_list("run_id", *compared)}
    rows = []
    for run_id in wanted:
        fetched = found.get(run_id)
        if fetched is None:
            fields: dict[str, object] = {"lifecycle_stage": MISSING, "synced_at": now}
        else:
            fields = _run_fields(fetched, experiments.get(fetched.experiment_id), now)
        row = IndexedRun(run_id=run_id, **fields)
        if known.get(run_id) != tuple(getattr(row, f) for f in compared):
            rows.append(row)
    IndexedRun.objects.bulk_create(
        rows, batch_size=500, update_conflicts=True, unique_fields=["run_id"], update_fields=list(RUN_FIELDS)
    )
    return len(found)


def runs_prune() -> int:
    """Forget runs no indexed version names any more."""
    used = IndexedVersion.objects.values("run_id")
    deleted, _ = IndexedRun.objects.exclude(run_id__in=used).delete()
    return deleted
