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


class _Recorder:
    """Counts what a block of code looks up: environment variables (os.environ, os.getenv) and imports
    that are not loaded yet (each one is a search of sys.path; MLflow's Databricks probes are such)."""

    def __init__(self) -> None:
        self.env: list[str] = []
        self.imports: list[str] = []

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        self.imports.append(fullname)
        return None


def test_gateway_calls_do_no_per_call_setup(mlflow: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 20: the gateway's client is configured once per process. After a first call, 40 more reads
    and writes look up no environment variable, search for no module (no request-header or Databricks
    context probing) and build no new transport."""
    import os
    import sys

    from mlopsadmin.lib import mlflow_rest

    experiment = mlf.get_experiment_by_name("/search-team/query-ranking/bert-finetune")
    assert experiment is not None
    run_id = mlf.create_run(experiment.experiment_id, run_name="per-call-setup")
    mlf.get_registered_model("search-ranker")
    builds = mlflow_rest.builds
    recorder = _Recorder()

    class CountingEnviron(type(os.environ)):  # type: ignore[misc]
        def __getitem__(self, key: str) -> str:
            recorder.env.append(key)
            return super().__getitem__(key)

    counting = CountingEnviron(
        os.environ._data,  # type: ignore[attr-defined]
        os.environ.encodekey,  # type: ignore[attr-defined]
        os.environ.decodekey,  # type: ignore[attr-defined]
        os.environ.encodevalue,  # type: ignore[attr-defined]
        os.environ.decodevalue,  # type: ignore[attr-defined]
    )
    monkeypatch.setattr(os, "environ", counting)
    sys.meta_path.insert(0, recorder)  # type: ignore[arg-type]
    try:
        for step in range(10):
            mlf.get_registered_model("search-ranker")
            mlf.get_model_version("search-ranker", "1")
            mlf.set_run_tag(run_id, "step", str(step))
            assert mlf.get_run(run_id).tags["step"] == str(step)
    finally:
        sys.meta_path.remove(recorder)  # type: ignore[arg-type]
    assert recorder.env == [], f"environment read per call: {sorted(set(recorder.env))}"
    assert recorder.imports == [], f"modules searched per call: {sorted(set(recorder.imports))}"
    assert mlflow_rest.builds == builds
