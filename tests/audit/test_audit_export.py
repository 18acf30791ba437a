"""Exports carry exactly the events of the filtered pages (an operation's items too), streamed."""

from __future__ import annotations

import json

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from mlopsadmin.audit.selectors import parse_csv_export

from .conftest import record

pytestmark = pytest.mark.django_db


def all_page_ids(client, params: dict) -> list[int]:  # type: ignore[no-untyped-def]
    """Every event the pages show, newest first: their rows and the items folded under operations."""
    ids, query = [], dict(params)
    while True:
        context = client.get(reverse("audit:index"), query).context
        ids += [e.id for e in context["page"].events]
        ids += [item.id for row in context["rows"] if row.fold for item in row.fold.items]
        if not context["page"].next_cursor:
            return sorted(ids, reverse=True)
        query = {**params, "before": context["page"].next_cursor}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"team": "fraud", "action": "approval."},
        {"q": "promotion"},
        {"target_kind": "model_version", "target_id": "fraud-detector/7"},
    ],
)
def test_csv_and_jsonl_equal_the_pages_rows(login, sample_events, settings, params) -> None:  # type: ignore[no-untyped-def]
    settings.AUDIT_PAGE_SIZE = 3
    client = login("auditor")
    page_ids = all_page_ids(client, params)
    csv_response = client.get(reverse("audit:export_csv"), params)
    assert isinstance(csv_response, StreamingHttpResponse)
    assert csv_response["Content-Disposition"].startswith("attachment;")
    rows = parse_csv_export(b"".join(csv_response.streaming_content).decode())
    assert [r["id"] for r in rows] == page_ids
    jsonl = client.get(reverse("audit:export_jsonl"), params)
    lines = [json.loads(line) for line in b"".join(jsonl.streaming_content).decode().splitlines()]
    assert [line["id"] for line in lines] == page_ids
    by_id = {e.id: e for e in sample_events}
    for line in lines:
        if line["id"] in by_id:
            assert line["before"] == by_id[line["id"]].before and line["after"] == by_id[line["id"]].after
            assert line["actor_name"] == by_id[line["id"]].actor_name


def test_export_walks_keyset_chunks(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mlopsadmin.audit import selectors as audit_selectors

    for n in range(23):
        record(action="bulk.step", target_id=str(n), reason=f"row {n}, with a comma")
    monkeypatch.setattr(audit_selectors, "EXPORT_CHUNK", 5)
    filters = audit_selectors.parse_filters({"action": "bulk."})
    rows = list(audit_selectors.iter_filtered_values(filters, chunk=5))
    assert [r["target_id"] for r in rows] == [str(n) for n in range(22, -1, -1)]
    text = "".join(audit_selectors.export_csv(filters))
    assert [r["reason"] for r in parse_csv_export(text)][:2] == ["row 22, with a comma", "row 21, with a comma"]


def test_export_needs_audit_view_and_valid_filters(login, sample_events) -> None:  # type: ignore[no-untyped-def]
    assert login("member_fraud").get(reverse("audit:export_csv")).status_code == 403
    assert login("auditor").get(reverse("audit:export_jsonl"), {"since": "nope"}).status_code == 400
