"""Data of the compare tests (service and browser): a model whose versions differ in metrics, params and
tags, and the configuration that makes drift_score lower-is-better."""

from __future__ import annotations

import time
import uuid

import pytest

from configuration.models import ConfigSetting
from configuration.selectors import clear_caches
from mlopsadmin.lib import mlflow_client as mlf


def make_compared_model(scores: tuple[float, ...] = (0.80, 0.86, 0.83)) -> tuple[str, list[str]]:
    """A model owned by team search with one version per score; each source run logs a 10-step
    val_ndcg_at_10 history ending at the score, train_loss, drift_score, two params and two tags."""
    suffix = uuid.uuid4().hex[:10]
    experiment_id = mlf.create_experiment(f"/search-team/compare-tests/{suffix}")
    name = f"search-compare-{suffix}"
    mlf.create_registered_model(name)
    now = int(time.time() * 1000)
    run_ids = []
    for index, score in enumerate(scores):
        run_id = mlf.create_run(experiment_id, run_name=f"train-{index}", tags={"owner": "ana", "note": f"try {index}"})
        history = [("val_ndcg_at_10", round(score - (9 - s) * 0.01, 4), now + s, s) for s in range(10)]
        mlf.log_batch(
            run_id,
            metrics=history + [("train_loss", 0.5 - index * 0.1, now, 0), ("drift_score", 0.2 + index * 0.05, now, 0)],
            params={"learning_rate": f"{index + 1}e-5", "batch_size": "64"},
        )
        mlf.set_terminated(run_id)
        mlf.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id)
        run_ids.append(run_id)
    mlf.set_model_alias(name, "champion", "1")
    return name, run_ids


@pytest.fixture
def drift_is_lower_is_better(personas) -> None:  # type: ignore[no-untyped-def]
    """The configuration file's [metrics] section says drift_score is lower-is-better (its name alone
    says higher)."""
    ConfigSetting.objects.update_or_create(
        key="metrics", defaults={"value": {"lower_is_better": ["drift_score"], "higher_is_better": []}}
    )
    clear_caches()
    yield
    clear_caches()
