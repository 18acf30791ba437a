"""Issue 19 case 8: the API reference page is served by the app for signed-in users, from local
assets only; the OpenAPI document it reads has one key per response status (strict parsers refuse
duplicates: ninja's int 400 next to the added "400")."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.django_db


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicate keys: {sorted(k for k in keys if keys.count(k) > 1)}"
    return dict(pairs)


def test_openapi_document_has_no_duplicate_keys(login) -> None:
    response = login("member_search").get("/api/v1/openapi.json")
    document = json.loads(response.content, object_pairs_hook=_no_duplicate_keys)
    conflict = document["paths"]["/api/v1/models/{name}/promote"]["post"]["responses"]["409"]
    assert conflict["description"]  # the operation's own answer is kept, the common one fills gaps


def test_api_reference_page_uses_local_assets_and_needs_sign_in(client, login) -> None:
    assert client.get("/api/v1/docs").status_code == 302  # to the login page
    page = login("auditor").get("/api/v1/docs").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/static/") for s in sources), sources
    assert "<script>" not in page.replace(" ", "")  # no inline script (CSP script-src 'self')
    tokens = login("member_search").get("/account/tokens/").content.decode()
    assert 'href="/api/v1/docs"' in tokens and 'href="/api/v1/openapi.json"' in tokens
