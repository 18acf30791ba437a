"""GET /api/v1/audit-events: same filters as the page, cursor pagination."""

from __future__ import annotations

import pytest
from django.test import Client

from mlopsadmin.core.models import ApiToken, hash_token

from .conftest import record

pytestmark = pytest.mark.django_db


def bearer(user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    raw = ApiToken.new_raw_token()
    ApiToken.objects.create(user=user, name="t", token_hash=hash_token(raw), hint=raw[:12])
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_api_filters_and_cursor(personas, sample_events) -> None:  # type: ignore[no-untyped-def]
    for n in range(9):
        record(action="approval.request", target_id=f"m/{n}", team="fraud")
    api, headers = Client(), bearer(personas["auditor"])
    seen, cursor = [], None
    while True:
        params = {"team": "fraud", "action": "approval.", "limit": 4, **({"cursor": cursor} if cursor else {})}
        body = api.get("/api/v1/audit-events", params, **headers).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 11 == len(set(seen)) and seen == sorted(seen, reverse=True)
    one = api.get("/api/v1/audit-events", {"q": "INC-12"}, **headers).json()["items"]
    assert [e["id"] for e in one] == [sample_events[7].id]
    assert one[0]["before"] == {"aliases": ["champion"]} and one[0]["outcome"] == "partial"


def test_api_refuses_and_validates(personas, sample_events) -> None:  # type: ignore[no-untyped-def]
    api = Client()
    assert api.get("/api/v1/audit-events").status_code == 401
    assert api.get("/api/v1/audit-events", **bearer(personas["member_search"])).status_code == 403
    auditor = bearer(personas["auditor"])
    assert api.get("/api/v1/audit-events", {"since": "bogus"}, **auditor).status_code == 400
    assert api.get("/api/v1/audit-events", {"cursor": "x"}, **auditor).status_code == 422
    assert api.get("/api/v1/audit-events", {"limit": 0}, **auditor).status_code == 422
    schema = api.get("/api/v1/openapi.json", **auditor).json()
    assert "/api/v1/audit-events" in schema["paths"]
