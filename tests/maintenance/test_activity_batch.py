"""Issue 20, the reaper through the tracking API alone: its suspects' activity (metric history, logged models,
traces) is read for a batch of runs in a few calls, not four per run, and the answer is exactly the one the
per-run reads give — also when a bulk answer is cut at its row limit and when only some experiments hold logged
models. Real MLflow server (the session's), every request counted by a proxy in front of it."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import pytest

from mlopsadmin.lib import mlflow_activity, mlflow_support, mlflow_tracking
from mlopsadmin.lib import mlflow_client as mlf
from tests.faults import FaultProxy
from tests.maintenance.conftest import DAY_MS, make_run

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def _suspects(unique: str) -> tuple[list[mlf.Run], dict[str, str]]:
    """Old RUNNING runs in two experiments, as the reaper lists them: the first experiment holds a logged
    model of one run (made now), the second none; runs log two metrics, one of them at several steps, some
    at a lower step after a higher one (a resumed script)."""
    now = int(time.time() * 1000)
    first = mlf.create_experiment(f"/activity-{unique}/with-models")
    second = mlf.create_experiment(f"/activity-{unique}/without")
    named: dict[str, str] = {}
    for experiment_id in (first, second):
        for i in range(6):
            run_id = make_run(experiment_id, status="RUNNING", age_days=5, name=f"r{i}")
            points = [("loss", 0.5, now - (4 - s) * DAY_MS, 10 - s) for s in range(3)]
            mlf.log_batch(run_id, metrics=[*points, ("acc", 0.1, now - 3 * DAY_MS - i, 0)])
            named[f"{experiment_id}/{i}"] = run_id
    mlflow_support.create_logged_model(first, named[f"{first}/2"])
    listed = [run for run in mlf.iter_runs([first, second]) if run.run_id in named.values()]
    return listed, named


def _one_by_one(runs: list[mlf.Run], bound: int) -> dict[str, mlf.RunActivity]:
    return {run.run_id: mlflow_tracking.run_activity(run, not_after_ms=bound) for run in runs}


def test_a_batch_of_suspects_is_confirmed_in_a_few_calls_with_the_per_run_answer(
    mlflow: str, unique: str, settings: Any
) -> None:
    runs, _ = _suspects(unique)
    bound = int(time.time() * 1000) + 3_600_000
    expected = _one_by_one(runs, bound)
    assert any(a.last_model_time for a in expected.values())  # the check below covers a logged model
    with FaultProxy(mlflow) as proxy:
        settings.MLFLOW_TRACKING_URI = proxy.url
        try:
            found = mlf.runs_activity(runs, not_after_ms=bound)
        finally:
            settings.MLFLOW_TRACKING_URI = mlflow
    assert found == expected
    paths = Counter(seen.split(" ", 1)[1].split("?", 1)[0].rsplit("/mlflow", 1)[1] for seen in proxy.seen)
    assert paths["/metrics/get-history"] == 0, paths  # no per-run history read: one bulk call per key
    assert paths["/metrics/get-history-bulk"] == 2, paths
    # the union probe finds the model, the experiments are probed, then only the first one's 6 runs searched
    assert paths["/logged-models/search"] == 1 + 2 + 6, paths
    assert paths["/traces"] == 1, paths  # no trace anywhere: one probe


def test_a_bulk_answer_cut_at_its_row_limit_is_completed_run_by_run(
    mlflow: str, unique: str, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs, _ = _suspects(unique)
    bound = int(time.time() * 1000) + 3_600_000
    expected = _one_by_one(runs, bound)
    monkeypatch.setattr(mlflow_activity, "BULK_ROWS", 4)  # every "loss" answer is cut after 1-2 runs
    assert mlf.runs_activity(runs, not_after_ms=bound) == expected


def test_bulk_history_calls_stay_under_the_servers_request_line_limit() -> None:
    """gunicorn (MLflow's server) refuses a request line over 4094 bytes: 100 run ids of 32 characters made
    one (the reaper failed on a real server with 'Request Line is too large (4102 > 4094)')."""
    run_ids = [f"{i:032x}" for i in range(250)]
    for key in ("loss", "validation/" + "k" * 200):
        batches = mlflow_activity.bulk_batches(run_ids, key)
        assert [r for batch in batches for r in batch] == run_ids
        for batch in batches:
            query = urlencode([*(("run_id", r) for r in batch), ("metric_key", key), ("max_results", 25000)])
            line = f"GET /ajax-api/2.0/mlflow/metrics/get-history-bulk?{query} HTTP/1.1"
            assert len(line) <= 4094 and len(batch) <= mlflow_activity.BULK_RUNS


def test_a_chunk_of_runs_is_reread_with_its_searches_in_parallel(mlflow: str, unique: str, settings: Any) -> None:
    """The re-check of a chunk (execute, reaper) reads 100 runs per search; the searches of one chunk go out
    `workers` at a time (a PostgreSQL-backed server spent 0.65 s per 200-run chunk on them one after the other,
    half the execute's time), and every run comes back."""
    experiment_id = mlf.create_experiment(f"/reread-{unique}")
    run_ids = [mlf.create_run(experiment_id, run_name=f"r{i}") for i in range(250)]
    with FaultProxy(mlflow) as proxy:
        proxy.write_path, proxy.write_delay = "/runs/search", 0.3
        settings.MLFLOW_TRACKING_URI = proxy.url
        try:
            found = mlf.get_runs(run_ids, [experiment_id], workers=4)
        finally:
            settings.MLFLOW_TRACKING_URI = mlflow
    assert sorted(found) == sorted(run_ids)
    assert proxy.writes == 3 and proxy.max_in_flight == 3  # three searches of ≤ 100 runs, all at once


def test_a_chunk_written_through_a_server_databases_store_goes_out_in_parallel_sessions(
    mlflow: str, unique: str, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through MLflow's store layer a chunk is one session on SQLite (one writer) but, on a server database
    (PostgreSQL), `workers` sessions committed in parallel: one session sent 800 statements one round trip after
    the other (the store path ran at 0.9x the guide's REST loop on PostgreSQL). Every run is deleted once."""
    from mlopsadmin.lib import mlflow_bulk

    store_uri = settings.MLFLOW_BACKEND_STORE_URI
    experiment_id = mlf.create_experiment(f"/sessions-{unique}")
    run_ids = [make_run(experiment_id, status="FAILED", name=f"r{i}") for i in range(12)]
    sessions: list[list[str]] = []
    real = mlflow_bulk._in_one_session

    def counted(store: Any, ids: list[str], apply: Any) -> Any:
        sessions.append(list(ids))
        return real(store, ids, apply)

    monkeypatch.setattr(mlflow_bulk, "_in_one_session", counted)
    outcomes = mlf.delete_runs(
        run_ids, workers=4, store_uri=store_uri, artifacts_destination=settings.MLFLOW_ARTIFACTS_DESTINATION
    )
    assert outcomes == dict.fromkeys(run_ids)
    assert sorted(r for ids in sessions for r in ids) == sorted(run_ids)
    assert len(sessions) == (1 if store_uri.startswith("sqlite") else 4), store_uri
    assert all(mlf.get_run(r).lifecycle_stage == "deleted" for r in run_ids)
