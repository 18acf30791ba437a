"""Fixtures of the registry tests: a model of our own (unique name, owned by team search through its
name rule) with real runs and versions in the session's MLflow server, so demo models stay untouched."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import pytest

from mlopsadmin.lib import mlflow_client as mlf
from tests.registry.compare_data import drift_is_lower_is_better  # noqa: F401  (fixture)


@dataclass
class OwnModel:
    name: str
    experiment_id: str
    versions: list[str]
    run_ids: list[str]


def make_model(prefix: str = "search", scores: tuple[float, ...] = (0.80, 0.84), champion: int | None = 1) -> OwnModel:
    suffix = uuid.uuid4().hex[:10]
    experiment_id = mlf.create_experiment(f"/{prefix}-team/registry-tests/{suffix}")
    name = f"{prefix}-ranker-{suffix}"
    mlf.create_registered_model(name)
    versions, run_ids = [], []
    now = int(time.time() * 1000)
    for index, score in enumerate(scores):
        run_id = mlf.create_run(
            experiment_id,
            run_name=f"train-{index}",
            tags={"git.commit": f"abc{index}def", "data.version": f"v2026.0{index + 1}.01"},
        )
        points = [("val_ndcg_at_10", round(score - (9 - step) * 0.01, 4), now + step, step) for step in range(10)]
        mlf.log_batch(
            run_id, metrics=points + [("train_loss", 0.5 - index * 0.1, now, 0)], params={"learning_rate": "3e-5"}
        )
        mlf.set_terminated(run_id)
        version = mlf.create_model_version(
            name, source=f"runs:/{run_id}/model", run_id=run_id, tags={"training_data": f"s3://data/search/{suffix}/"}
        )
        versions.append(version.version)
        run_ids.append(run_id)
    if champion:
        mlf.set_model_alias(name, "champion", champion)
    return OwnModel(name, experiment_id, versions, run_ids)


@pytest.fixture
def own_model(mlflow: str) -> OwnModel:
    return make_model()
