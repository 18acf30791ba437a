"""Issue 20: where the backend store is configured, the cleanup execute's deletes go through MLflow's store
layer a chunk at a time; the chunk's runs are read in one query (MLflow's `_get_run` read one run per query,
a round trip per run on a server database), and a chunk holding a run that no longer exists still deletes
every other run and names the missing one."""

from __future__ import annotations

from typing import Any

import pytest

from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib import mlflow_purge
from tests.maintenance.conftest import make_run

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def _counting_store(monkeypatch: pytest.MonkeyPatch, settings: Any) -> list[str]:
    """MLflow's store of the settings, its per-run reads (`_get_run`) counted for this test."""
    store = mlflow_purge.tracking_store(settings.MLFLOW_BACKEND_STORE_URI, settings.MLFLOW_ARTIFACTS_DESTINATION)
    single_reads: list[str] = []
    real = store._get_run

    def counted(*args: Any, **kwargs: Any) -> Any:
        single_reads.append(str(kwargs.get("run_uuid", args[1] if len(args) > 1 else "")))
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "_get_run", counted)
    monkeypatch.setattr(mlflow_purge, "tracking_store", lambda uri, destination: store)
    return single_reads


def test_a_chunk_of_deletes_through_the_store_reads_its_runs_in_one_query(  # type: ignore[no-untyped-def]
    monkeypatch, make_experiment, settings, mlflow
) -> None:
    experiment_id, _ = make_experiment("/search-team/store-chunk-reads")
    run_ids = [make_run(experiment_id) for _ in range(6)]
    single_reads = _counting_store(monkeypatch, settings)

    outcomes = mlf.delete_runs(
        run_ids,
        workers=2,
        store_uri=settings.MLFLOW_BACKEND_STORE_URI,
        artifacts_destination=settings.MLFLOW_ARTIFACTS_DESTINATION,
    )

    assert outcomes == dict.fromkeys(run_ids)
    assert {mlf.get_run(run_id).lifecycle_stage for run_id in run_ids} == {"deleted"}
    assert single_reads == [], f"one read per run: {len(single_reads)}"


def test_a_chunk_with_a_run_that_no_longer_exists_deletes_the_others_and_names_it(  # type: ignore[no-untyped-def]
    make_experiment, settings, mlflow
) -> None:
    experiment_id, _ = make_experiment("/search-team/store-chunk-missing")
    run_ids = [make_run(experiment_id) for _ in range(3)]
    gone = "0" * 32

    outcomes = mlf.delete_runs(
        [run_ids[0], gone, *run_ids[1:]],
        workers=1,
        store_uri=settings.MLFLOW_BACKEND_STORE_URI,
        artifacts_destination=settings.MLFLOW_ARTIFACTS_DESTINATION,
    )

    assert [outcomes[run_id] for run_id in run_ids] == [None, None, None]
    assert isinstance(outcomes[gone], mlf.MlflowNotFound), outcomes[gone]
    assert {mlf.get_run(run_id).lifecycle_stage for run_id in run_ids} == {"deleted"}
