"""Fixtures of the issue-16 tests: throw-away models with real runs in the session's MLflow server, and
API clients per persona."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client

from mlopsadmin.core.services import api_token_create
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.promotion.models import GatePolicy


@dataclass
class Made:
    name: str
    run_ids: list[str]  # per version, v1 first


def _experiment_id() -> str:
    name = "/search-team/legacy-tests/runs"
    found = mlf.get_experiment_by_name(name)
    return found.experiment_id if found else mlf.create_experiment(name)


@pytest.fixture
def make_model(mlflow: str, personas: dict[str, object]) -> Callable[..., Made]:
    """make_model([{"val_ndcg_at_10": 0.85}, ...], aliases={"champion": 1}) → a new model owned by team
    search (name starts with 'search-'), one version per metrics dict; approval not required unless
    approval_required=True (None: no gate policy row)."""

    def _make(
        metrics: list[dict[str, float]],
        *,
        aliases: dict[str, int] | None = None,
        approval_required: bool | None = False,
        tags: dict[str, str] | None = None,
    ) -> Made:
        name = f"search-legacy-{uuid.uuid4().hex[:10]}"
        mlf.create_registered_model(name)
        run_ids = []
        for values in metrics:
            run_id = mlf.create_run(_experiment_id(), run_name=f"{name}-run")
            now = int(time.time() * 1000)
            if values:
                mlf.log_batch(run_id, metrics=[(k, v, now, 0) for k, v in values.items()])
            mlf.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id, tags=tags)
            mlf.set_terminated(run_id)
            run_ids.append(run_id)
        for alias, version in (aliases or {}).items():
            mlf.set_model_alias(name, alias, version)
        if approval_required is not None:
            GatePolicy.objects.create(model_name=name, require_approval=approval_required)
        return Made(name, run_ids)

    return _make


@pytest.fixture
def api(personas: dict[str, object]) -> Callable[[str], Client]:
    def _client(username: str) -> Client:
        _, raw = api_token_create(actor=personas[username], user=personas[username], name="ci")  # type: ignore[arg-type]
        return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    return _client
