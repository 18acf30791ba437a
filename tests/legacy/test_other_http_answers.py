"""Case 2 of issue 16, the rest of its kind (break-test): answers of the tracking URI other than 401/403/5xx.
A rate limit (429, from MLflow or a proxy in front of it) is transient: retried by tasks, said as a rate
limit, never "an internal error" or "MLflow refused the request". A 404 whose body is not MLflow's JSON (a
proxy with no route, a wrong path in MLFLOW_TRACKING_URI) is not "no such model": nothing is taken as
deleted and health says what answered."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client

from mlopsadmin.core.services import api_token_create
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.models import IndexedModel
from tests.faults import FaultProxy

pytestmark = pytest.mark.django_db

NGINX_429 = b"<html><body><h1>429 Too Many Requests</h1><hr>nginx</body></html>"
MLFLOW_429 = b'{"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "Too many requests"}'
NGINX_404 = b"<html><body><h1>404 Not Found</h1><hr>nginx</body></html>"


def _api(personas, username: str) -> Client:  # type: ignore[no-untyped-def]
    _, raw = api_token_create(actor=personas[username], user=personas[username], name="ci")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.mark.parametrize("body", [NGINX_429, MLFLOW_429], ids=["proxy", "mlflow"])
def test_a_rate_limit_is_transient_and_said_as_such(mlflow_server, settings, personas, make_model, body) -> None:
    made = make_model([{"val_ndcg_at_10": 0.9}])
    settings.MLFLOW_REQUEST_MAX_RETRIES = 0
    with FaultProxy(mlflow_server) as proxy:
        settings.MLFLOW_TRACKING_URI = proxy.url
        proxy.fail_with, proxy.fail_body = 429, body
        with pytest.raises(mlf.MlflowUnavailable) as limited:  # what tasks retry (autoretry_for)
            list(mlf.iter_registered_models())
        text = str(limited.value)
        assert limited.value.retryable and "429" in text and "rate" in text.lower(), text
        assert "internal error" not in text and "HTTP 500" not in text, text
        answer = _api(personas, "admin").get(f"/api/v1/registry/models/{quote(made.name, safe='')}/versions")
        assert answer.status_code == 503, answer.content
        assert "429" in answer.json()["detail"]


def test_a_404_page_that_is_not_mlflow_is_not_a_missing_model(mlflow_server, settings, personas, make_model) -> None:
    made, other = make_model([{"val_ndcg_at_10": 0.9}]), make_model([{"val_ndcg_at_10": 0.9}])
    client = Client()
    client.force_login(personas["admin"])
    page = f"/registry/models/{quote(made.name, safe='')}/"
    assert client.get(page).status_code == 200  # indexed
    assert IndexedModel.objects.filter(name=made.name).exists()
    with FaultProxy(mlflow_server) as proxy:
        settings.MLFLOW_TRACKING_URI = proxy.url
        proxy.fail_with, proxy.fail_body = 404, NGINX_404
        with pytest.raises(mlf.MlflowError) as wrong:
            mlf.get_registered_model(made.name)
        assert not isinstance(wrong.value, mlf.MlflowNotFound)
        assert "404" in str(wrong.value) and "MLFLOW_TRACKING_URI" in str(wrong.value)
        unseen = f"/api/v1/registry/models/{quote(other.name, safe='')}/versions"  # not indexed yet: read now
        answer = _api(personas, "admin").get(unseen)
        assert answer.status_code == 502, answer.content
        assert "No registered model" not in answer.json()["detail"]
        from registry_ui import index_store

        with pytest.raises(mlf.MlflowError):
            index_store.model_refresh(made.name)  # e.g. a webhook's refresh meanwhile
        assert IndexedModel.objects.filter(name=made.name).exists()  # not taken as deleted
        health = client.get("/healthz")
        detail = health.json()["checks"]["mlflow"]["detail"]
        assert health.status_code == 503 and "404" in detail and "ConnectionError" not in detail, detail


@pytest.mark.parametrize("status", [401, 403, 429, 500])
def test_health_says_what_answered_when_health_itself_is_refused(mlflow_server, settings, personas, status) -> None:
    """A proxy in front of MLflow that guards every path (also /health) answers 401/403/429/500: health
    names that answer, not a connection error."""
    client = Client()
    client.force_login(personas["admin"])
    settings.MLFLOW_REQUEST_MAX_RETRIES = 0
    with FaultProxy(mlflow_server) as proxy:
        settings.MLFLOW_TRACKING_URI = proxy.url
        proxy.fail_with, proxy.fail_body = status, b"<html><body>%d</body></html>" % status
        health = client.get("/healthz")
        detail = health.json()["checks"]["mlflow"]["detail"]
        assert health.status_code == 503 and str(status) in detail and "ConnectionError" not in detail, detail


@pytest.mark.parametrize("body", [NGINX_429, MLFLOW_429], ids=["proxy", "mlflow"])
def test_the_permission_api_says_a_rate_limit_too(mlflow_server, settings, body) -> None:
    """The gateway to MLflow's permission API classifies its own answers: a 429 there was 'MlflowInvalid'
    (not retried by the permission sync task, read as bad input)."""
    from mlopsadmin.lib import mlflow_auth

    with FaultProxy(mlflow_server) as proxy:
        settings.MLFLOW_TRACKING_URI = proxy.url
        proxy.fail_with, proxy.fail_body = 429, body
        with pytest.raises(mlf.MlflowRateLimited) as limited:
            mlflow_auth.list_users()
        assert limited.value.retryable and "429" in str(limited.value)
