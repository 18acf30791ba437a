"""The MLflow gateway against a real server: full pagination, plain records, clear domain errors."""

from __future__ import annotations

import pytest

from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib import mlflow_support


def test_iter_runs_walks_every_page(mlflow: str, monkeypatch: pytest.MonkeyPatch) -> None:
    experiment = mlf.get_experiment_by_name("/search-team/query-ranking/bert-finetune")
    assert experiment is not None
    everything = list(mlf.iter_runs([experiment.experiment_id]))
    paged = list(mlf.iter_runs([experiment.experiment_id], page_size=3))
    assert len(everything) > 3
    assert sorted(r.run_id for r in paged) == sorted(r.run_id for r in everything)


def test_iter_experiments_and_models_are_complete(mlflow: str) -> None:
    names = {e.name for e in mlf.iter_experiments()}
    assert "/fraud-team/transaction-classifier/xgboost-baseline" in names
    assert "johns_experiment" in names
    models = {m.name: m for m in mlf.iter_registered_models()}
    assert {"search-ranker", "fraud-detector", "xgboost-fraud-v3"} <= set(models)
    # alias values are always strings, whatever the store returns
    assert models["search-ranker"].aliases["champion"] == "2"


def test_versions_of_one_model(mlflow: str) -> None:
    versions = list(mlf.iter_model_versions(name="search-ranker"))
    assert sorted(v.version for v in versions) == ["1", "2", "3"]
    champion = mlf.get_model_version_by_alias("search-ranker", "champion")
    assert champion is not None and champion.version == "2" and champion.run_id
    assert mlf.get_model_version_by_alias("search-ranker", "no-such-alias") is None


def test_champion_alias_loads_a_real_model(mlflow: str) -> None:
    model = mlflow_support.load_pyfunc("models:/search-ranker@champion")
    assert model.predict([[1.0], [2.0]]) == [0.846, 0.846]


def test_unknown_objects_raise_not_found(mlflow: str) -> None:
    with pytest.raises(mlf.MlflowNotFound):
        mlf.get_registered_model("no-such-model")
    with pytest.raises(mlf.MlflowNotFound):
        mlf.get_run("0" * 32)


def test_dead_server_raises_unavailable_quickly(settings: object) -> None:
    import time

    from mlopsadmin.lib.mlflow_server import free_port

    settings.MLFLOW_TRACKING_URI = f"http://127.0.0.1:{free_port()}"  # type: ignore[attr-defined]
    start = time.monotonic()
    with pytest.raises(mlf.MlflowUnavailable) as caught:
        list(mlf.iter_experiments())
    assert caught.value.retryable
    assert time.monotonic() - start < 30
