"""Fixtures of the promotion tests: throw-away registered models with real runs in the session's
MLflow server (never the demo models)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import pytest

from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib import mlflow_support
from registry_ui.promotion.models import GatePolicy

METRIC = "val_ndcg_at_10"


def _experiment_id() -> str:
    name = "/search-team/promotion-tests/runs"
    found = mlf.get_experiment_by_name(name)
    return found.experiment_id if found else mlf.create_experiment(name)


@pytest.fixture
def make_model(mlflow: str, personas: dict[str, object]) -> Callable[..., str]:
    """make_model([0.85, 0.9], aliases={"champion": 1}, approval_required=False) → a new model name.

    Each score is the gate metric of the version's source run (None: the run has no such metric).
    The name starts with 'search-' so team search owns it (lead_search may promote it)."""

    def _make(
        scores: list[float | None],
        *,
        aliases: dict[str, int] | None = None,
        approval_required: bool | None = False,
        pyfunc: bool = False,
    ) -> str:
        name = f"search-promo-{uuid.uuid4().hex[:10]}"
        mlf.create_registered_model(name, description="promotion test model")
        experiment_id = _experiment_id()
        for score in scores:
            run_id = mlf.create_run(experiment_id, run_name=f"{name}-run")
            if score is not None:
                mlf.log_batch(run_id, metrics=[(METRIC, score, int(time.time() * 1000), 0)])
            if pyfunc:
                mlf.register_model_version(name, mlflow_support.log_constant_model(run_id, score=score or 0.0))
            else:
                mlf.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id)
            mlf.set_terminated(run_id)
        for alias, version in (aliases or {}).items():
            mlf.set_model_alias(name, alias, version)
        if approval_required is not None:
            GatePolicy.objects.create(model_name=name, require_approval=approval_required)
        return name

    return _make


@pytest.fixture
def fast_timeouts(settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """MLflow calls of this process give up after 2 s (fault tests: a frozen or slow server)."""
    settings.MLFLOW_REQUEST_TIMEOUT = 2
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")  # the SDK's reads


def deliver(  # type: ignore[no-untyped-def]
    client,
    secret: str,
    payload: dict,
    *,
    timestamp: int | None = None,
    signature: str | None = None,
    delivery: str | None = None,
):
    """POST `payload` to the MLflow webhook receiver signed as MLflow signs it (HMAC of id.timestamp.body);
    a new delivery id unless `delivery` is given (a replay)."""
    from django.urls import reverse

    from registry_ui.promotion import webhooks

    body = json.dumps(payload)
    delivery, stamp = delivery or str(uuid.uuid4()), str(timestamp or int(time.time()))
    return client.post(
        reverse("promotion:webhook"),
        data=body,
        content_type="application/json",
        HTTP_X_MLFLOW_SIGNATURE=signature or webhooks.sign(secret, delivery, stamp, body),
        HTTP_X_MLFLOW_TIMESTAMP=stamp,
        HTTP_X_MLFLOW_DELIVERY_ID=delivery,
    )


def open_challenger_dialog(page, version: str):  # type: ignore[no-untyped-def]
    """On a page with the promotion panel: choose `version`, click "Make challenger", return the open dialog."""
    page.select_option("#promotion-panel select[name=version]", version)
    page.click("#promotion-panel button[data-action=challenger]")
    dialog = page.locator("#dialog-slot dialog[open]")
    dialog.wait_for()
    return dialog
