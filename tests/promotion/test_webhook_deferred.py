"""Issue 21, case 6, when the delivery cannot be handled at once: the first alias change of a model
mlopsadmin has never seen arrives while MLflow does not answer, or while the model's lock is held. The
receiver answers 202, and the change MLflow reported is still recorded (by a follow-up on the real Celery
worker that keeps what the delivery said), not swallowed into a baseline by the next scheduled sweep."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest

from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib.mlflow_server import free_port
from registry_ui.promotion.locking import model_lock
from registry_ui.promotion.models import AliasEvent
from tests.promotion.conftest import deliver

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SECRET = "s3cret-for-tests"


def _mlflow_not_answering(settings: Any, name: str) -> AbstractContextManager[None]:
    class Down:
        def __enter__(self) -> None:
            self.live, settings.MLFLOW_TRACKING_URI = settings.MLFLOW_TRACKING_URI, f"http://127.0.0.1:{free_port()}"

        def __exit__(self, *exc: object) -> None:
            settings.MLFLOW_TRACKING_URI = self.live

    return Down()


def _lock_held(settings: Any, name: str) -> AbstractContextManager[None]:
    settings.PROMOTION_LOCK_TTL_SECONDS = 60
    return model_lock(name)  # a promotion of the model is running


@pytest.mark.parametrize("busy", [_mlflow_not_answering, _lock_held], ids=["mlflow down", "lock held"])
def test_a_deferred_first_change_is_still_recorded(  # type: ignore[no-untyped-def]
    busy: Callable[[Any, str], AbstractContextManager[None]], celery_worker, make_model, client, settings
):
    settings.MLFLOW_WEBHOOK_SECRET = SECRET
    name = make_model([0.85, 0.86])
    mlf.set_model_alias(name, "champion", "2")  # directly in MLflow, on a model mlopsadmin never saw
    payload = {"entity": "model_version_alias", "action": "created", "data": {"name": name, "alias": "champion"}}
    payload["data"]["version"] = "2"
    with busy(settings, name):
        response = deliver(client, SECRET, payload)
    assert response.status_code == 202 and response.json().get("external_changes", 0) == 0

    deadline = time.monotonic() + 60
    while not AliasEvent.objects.filter(model_name=name, source=AliasEvent.SOURCE_EXTERNAL).exists():
        assert time.monotonic() < deadline, list(AliasEvent.objects.filter(model_name=name).values())
        time.sleep(0.5)
    event = AliasEvent.objects.get(model_name=name, source=AliasEvent.SOURCE_EXTERNAL)
    assert (event.alias, event.from_version, event.to_version) == ("champion", "", "2")
