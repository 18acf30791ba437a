"""Login, navigation shell, health endpoint, error pages, API tokens and the OpenAPI document."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse

from mlopsadmin.core.models import ApiToken, AuditEvent

NAV_URLS = ["home", "catalog:index", "registry:index", "maintenance:index", "checklists:index"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", [*NAV_URLS, "audit:index", "tokens"])
def test_anonymous_is_sent_to_login(client: Client, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_and_health_need_no_login(client: Client, mlflow: str, db: None) -> None:
    assert client.get(reverse("login")).status_code == 200
    response = client.get(reverse("healthz"))
    body = response.json()
    assert body["checks"]["database"]["ok"] and body["checks"]["mlflow"]["ok"]
    assert "detail" not in body["checks"]["mlflow"]  # anonymous callers get no details


def test_health_reports_dead_mlflow(client: Client, db: None, settings: object) -> None:
    settings.MLFLOW_TRACKING_URI = "http://127.0.0.1:9"  # type: ignore[attr-defined]
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["checks"]["mlflow"]["ok"] is False


@pytest.mark.django_db
def test_login_with_password_and_rate_limit(client: Client, personas: dict, demo_password: str) -> None:
    response = client.post(reverse("login"), {"username": "operator", "password": demo_password})
    assert response.status_code == 302
    client.logout()
    for _ in range(10):
        client.post(reverse("login"), {"username": "operator", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "operator", "password": demo_password})
    assert response.status_code == 429
    assert b"Too many failed attempts" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["lead_search", "operator", "auditor", "admin"])
def test_every_nav_page_renders_for_each_role(login, username: str, mlflow: str) -> None:  # type: ignore[no-untyped-def]
    client = login(username)
    for name in NAV_URLS:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert b'class="mainnav"' in response.content
    assert client.get(reverse("audit:index")).status_code == 200


@pytest.mark.django_db
def test_security_headers(login) -> None:  # type: ignore[no-untyped-def]
    response = login("operator").get(reverse("home"))
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Request-ID"]
    assert b"/static/vendor/htmx-2.0.11.min.js" in response.content


@pytest.mark.django_db
def test_api_token_created_hashed_used_and_revoked(login, personas: dict) -> None:  # type: ignore[no-untyped-def]
    client = login("lead_search")
    response = client.post(reverse("tokens"), {"name": "ci"})
    raw = response.context["new_token"]
    token = ApiToken.objects.get(user=personas["lead_search"])
    assert raw not in token.token_hash and len(token.token_hash) == 64
    api = Client()
    me = api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert me.status_code == 200 and me.json()["username"] == "lead_search"
    client.post(reverse("token_revoke", args=[token.pk]))
    assert api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    actions = list(AuditEvent.objects.filter(target_id="lead_search").values_list("action", flat=True))
    assert "api_token.create" in actions and "api_token.revoke" in actions
    assert raw not in str(list(AuditEvent.objects.values_list("after", flat=True)))


@pytest.mark.django_db
def test_auditor_cannot_create_tokens(login) -> None:  # type: ignore[no-untyped-def]
    assert login("auditor").post(reverse("tokens"), {"name": "x"}).status_code == 403


@pytest.mark.django_db
def test_api_requires_auth_and_serves_openapi(client: Client, login) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/me").status_code == 401
    document = login("auditor").get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.") and "/api/v1/me" in document["paths"]


@pytest.mark.redis
def test_health_reports_redis_broker(client: Client, db: None, settings: object) -> None:
    if not settings.REDIS_URL:  # type: ignore[attr-defined]
        pytest.skip("needs REDIS_URL")
    from mlopsadmin.core import health

    settings.CELERY_BROKER_URL = settings.REDIS_URL  # type: ignore[attr-defined]
    report = health._timed(health._broker)
    assert report["ok"], report
    assert "redis" in report["detail"].lower()


@pytest.mark.django_db
def test_idle_session_expires_and_use_refreshes_it(
    client: Client, personas: dict, demo_password: str, settings: object
) -> None:
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    settings.SESSION_REFRESH_SECONDS = 60  # type: ignore[attr-defined]
    client.post(reverse("login"), {"username": "operator", "password": demo_password})
    key = client.cookies[settings.SESSION_COOKIE_NAME].value  # type: ignore[attr-defined]
    first_expiry = Session.objects.get(pk=key).expire_date

    # Used again within the refresh interval: no session write on this page view.
    assert client.get(reverse("home")).status_code == 200
    assert Session.objects.get(pk=key).expire_date == first_expiry

    # Last refreshed long ago: this page view pushes the expiry forward.
    session = client.session
    session["_idle_refreshed_at"] = 0
    session.save()
    before = Session.objects.get(pk=key).expire_date
    assert client.get(reverse("home")).status_code == 200
    assert Session.objects.get(pk=key).expire_date > before

    # Idle past SESSION_COOKIE_AGE: the next page asks for the login again.
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
