"""20 concurrent promote requests for one model (HTTP, against the live server and the real MLflow
server): exactly one wins, the others get a clear 409, MLflow stays consistent, one audit event.
Once with the Redis lock (REDIS_URL; run in CI), once with the database lock."""

from __future__ import annotations

import threading

import pytest
import requests

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.core.services import api_token_create
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.promotion.models import AliasEvent

REQUESTS = 20


def promote_concurrently(live_server, make_model, personas) -> tuple[str, list[requests.Response]]:  # type: ignore[no-untyped-def]
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    _, token = api_token_create(actor="test", user=personas["lead_search"], name="ci")
    seen = {"champion": "1", "challenger": "2"}
    url = f"{live_server.url}/api/v1/models/{name}/promote"
    start = threading.Barrier(REQUESTS)
    responses: list[requests.Response] = []

    def one() -> None:
        start.wait()
        responses.append(
            requests.post(
                url, json={"expected_aliases": seen}, timeout=60, headers={"Authorization": f"Bearer {token}"}
            )
        )

    threads = [threading.Thread(target=one) for _ in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return name, responses


def assert_exactly_one_promotion(name: str, responses: list[requests.Response]) -> None:
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (REQUESTS - 1), [r.text for r in responses if r.status_code not in (200, 409)]
    for conflict in (r for r in responses if r.status_code == 409):
        detail = conflict.json()["detail"]
        assert "changed since you looked" in detail or "in progress" in detail
    assert mlf.get_registered_model(name).aliases == {"champion": "2", "previous-champion": "1"}
    assert [e.outcome for e in AuditEvent.objects.filter(target_id=name).order_by("id")] == ["pending", "ok"]
    moves = AliasEvent.objects.filter(model_name=name, alias="champion").exclude(source=AliasEvent.SOURCE_BASELINE)
    assert moves.count() == 1


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_concurrent_promotions_with_the_redis_lock(live_server, make_model, personas, settings) -> None:
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    name, responses = promote_concurrently(live_server, make_model, personas)
    assert_exactly_one_promotion(name, responses)


@pytest.mark.django_db(transaction=True)
def test_concurrent_promotions_with_the_database_lock(live_server, make_model, personas, settings) -> None:
    settings.REDIS_URL = ""
    name, responses = promote_concurrently(live_server, make_model, personas)
    assert_exactly_one_promotion(name, responses)
