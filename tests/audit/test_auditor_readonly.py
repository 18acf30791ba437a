"""An auditor sees everything and can change nothing: every URL of the installation and every mutating
API operation is tried with POST/PUT/PATCH/DELETE as the auditor (see urlwalk.py: generic, so the URLs
of every feature are covered as soon as they are merged)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from mlopsadmin.core.models import ApiToken, AuditEvent, hash_token

from . import urlwalk

pytestmark = pytest.mark.django_db


def bearer(user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    raw = ApiToken.new_raw_token()
    ApiToken.objects.create(user=user, name="walk", token_hash=hash_token(raw), hint=raw[:12])
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_url_map_walk_refuses_every_mutation(client, personas, mlflow) -> None:  # type: ignore[no-untyped-def]
    auditor = personas["auditor"]
    before = urlwalk.table_counts()
    result = urlwalk.walk_urls(client, auditor)
    after = urlwalk.table_counts()
    assert not result.successes, "auditor's mutating requests succeeded:\n" + "\n".join(map(str, result.successes))
    assert {t: (before[t], after[t]) for t in before if before[t] != after.get(t)} == {}
    assert not AuditEvent.objects.filter(actor=auditor).exists()
    assert not AuditEvent.objects.filter(actor_name="auditor").exists()
    assert not result.server_errors, "500 on a mutating request:\n" + "\n".join(map(str, result.server_errors))
    # The walk really reached the mutating views of the core (not a vacuous pass).
    revoke = reverse("token_revoke", args=[1])
    assert result.statuses[f"POST {reverse('tokens')}"] == 403
    assert result.statuses[f"POST {revoke}"] == 403
    assert result.requests >= 4 * 20
    assert not [name for name in result.unbuildable if not name.startswith(("admin", "static"))], result.unbuildable


def test_api_walk_refuses_every_mutation(personas, mlflow) -> None:  # type: ignore[no-untyped-def]
    auditor = personas["auditor"]
    api, headers = Client(), bearer(auditor)
    document = api.get("/api/v1/openapi.json", **headers).json()
    before = urlwalk.table_counts()
    result = urlwalk.walk_api(api, headers, document)
    assert not result.successes, "auditor's API mutations succeeded:\n" + "\n".join(map(str, result.successes))
    assert urlwalk.table_counts() == before
    assert not AuditEvent.objects.filter(actor=auditor).exists()
    assert not result.server_errors, "500 on a mutating API call:\n" + "\n".join(map(str, result.server_errors))
    # Reads still work for the auditor across every team.
    assert api.get("/api/v1/audit-events", **headers).status_code == 200


def test_walker_detects_a_permitted_mutation(client, personas) -> None:  # type: ignore[no-untyped-def]
    """Positive control: the same judge flags an admin's successful POST (so the walk cannot pass vacuously)."""
    client.force_login(personas["admin"])
    response = client.post(reverse("tokens"), {"name": "control"})
    assert urlwalk.is_success(response)
    client.force_login(personas["auditor"])
    assert not urlwalk.is_success(client.post(reverse("tokens"), {"name": "control"}))
    anonymous = Client().post(reverse("tokens"), {"name": "x"})
    assert anonymous.status_code == 302 and not urlwalk.is_success(anonymous)
    # A redirect after a success message counts as success; after only an error message, as a refusal.
    client.force_login(personas["admin"])
    token = ApiToken.objects.filter(user=personas["admin"]).first()
    revoked = client.post(reverse("token_revoke", args=[token.pk]))
    assert revoked.status_code == 302 and urlwalk.is_success(revoked)


def test_body_generator_fills_required_fields() -> None:
    document = {
        "components": {
            "schemas": {
                "In": {
                    "type": "object",
                    "required": ["name", "n", "tags", "mode"],
                    "properties": {
                        "name": {"type": "string", "minLength": 3},
                        "n": {"type": "integer", "minimum": 2},
                        "tags": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                        "mode": {"enum": ["dry", "real"]},
                        "opt": {"type": "string"},
                    },
                }
            }
        }
    }
    body = urlwalk.example_for({"$ref": "#/components/schemas/In"}, document)
    assert body == {"name": "search-ranker", "n": 2, "tags": ["1"], "mode": "dry"}
    assert (
        urlwalk.path_from_regex("registry/models/(?P<name>[^/]+)/versions/(?P<version>[0-9]+)/\\Z")
        == "/registry/models/search-ranker/versions/1/"
    )
