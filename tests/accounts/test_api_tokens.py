"""API tokens for CI and auditors: optional expiry and a read-only scope, enforced for every API operation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from mlopsadmin.core.models import ApiToken, AuditEvent
from mlopsadmin.core.services import api_token_create

from ..audit import urlwalk

pytestmark = pytest.mark.django_db


def _bearer(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models() if model._meta.managed}


def test_a_read_only_token_of_an_admin_changes_nothing_through_any_operation(personas) -> None:  # type: ignore[no-untyped-def]
    _, raw = api_token_create(actor="test", user=personas["admin"], name="dashboard", read_only=True)
    client = Client()
    assert client.get("/api/v1/me", **_bearer(raw)).status_code == 200
    document = client.get("/api/v1/openapi.json", **_bearer(raw)).json()
    before = _row_counts()
    refused = 0
    for template, item in document["paths"].items():
        for method in ("post", "put", "patch", "delete"):
            if method not in item:
                continue
            path = template
            for param in item[method].get("parameters", []):
                if param.get("in") == "path":
                    value = str(urlwalk.example_for(param.get("schema", {}), document, param["name"]))
                    path = path.replace("{" + param["name"] + "}", value)
            response = client.generic(
                method.upper(),
                f"/api/v1{path}" if not path.startswith("/api/") else path,
                data=json.dumps({}),
                content_type="application/json",
                **_bearer(raw),
            )
            assert response.status_code == 403, (method, template, response.status_code)
            assert "read-only" in response.json()["detail"]
            refused += 1
    assert refused >= 14  # every writing operation of the API (14 when this was written) was tried
    after = _row_counts()
    assert after == before  # no row added or removed in any table (audit log included)


def test_an_expired_token_is_refused_and_shown_as_expired(personas, login) -> None:  # type: ignore[no-untyped-def]
    token, raw = api_token_create(actor="test", user=personas["lead_search"], name="ci", expires_in_days=1)
    assert Client().get("/api/v1/me", **_bearer(raw)).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get("/api/v1/me", **_bearer(raw)).status_code == 401
    page = login("lead_search").get("/account/tokens/").content.decode()
    assert '<td class="state">expired</td>' in page


def test_tokens_page_creates_read_only_expiring_tokens(personas, login) -> None:  # type: ignore[no-untyped-def]
    client = login("member_search")
    client.post("/account/tokens/", {"name": "grafana", "expires_in_days": "30", "read_only": "on"})
    token = ApiToken.objects.get(name="grafana")
    assert token.read_only and timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    page = client.get("/account/tokens/").content.decode()
    row = page.split('data-token="grafana"')[1].split("</tr>")[0]
    assert '<td class="scope">read-only</td>' in row and token.expires_at.strftime("%Y-%m-%d") in row
    event = AuditEvent.objects.get(action="api_token.create", target_id="member_search")
    assert event.after["scope"] == "read-only" and event.after["expires_at"]
    refused = client.post("/account/tokens/", {"name": "x", "expires_in_days": "soon"})
    assert refused.status_code == 400 and "Choose how many days" in refused.content.decode()
    assert 'name="read_only"' in refused.content.decode()  # the form is still there
    assert client.post("/account/tokens/", {"name": "x", "expires_in_days": "99999"}).status_code == 400
    assert not ApiToken.objects.filter(name="x").exists()


def test_issue_token_command_scopes(personas, capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("issue_token", "operator", "--name", "ro", "--read-only", "--expires-days", "7")
    raw = capsys.readouterr().out.strip()
    assert Client().post("/api/v1/maintenance/reaper", **_bearer(raw)).status_code == 403
    token = ApiToken.objects.get(name="ro")
    assert token.read_only and token.expires_at is not None
