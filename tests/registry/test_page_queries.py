"""The version page reads each thing once per request (issue 20): the gate settings, the version's approval
requests and imported approval, the version and its champion, the viewer's memberships. Its database
queries are a small fixed number that does not grow with the model's versions or the version's approvals."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry_ui.approvals import services as approvals
from tests.registry.conftest import make_model

pytestmark = pytest.mark.django_db

# session, user, model, version + champion, both runs, index state, owning team (1), gate settings, gate
# policy, required keys, approval requests, imported approval, roles and memberships (1), environments, and the
# page frame's nav (the inbox badge, with the led teams' names as its subquery; the capacity and checklist
# badges, the same for every user, are read once per NAV_SHARED_BADGE_SECONDS: tests/ui/test_shared_badges.py).
# Before issue 20: 29; then 21 (the owning team in 3 queries, roles and memberships apart), 18, 15.
VERSION_PAGE_QUERIES = 15


def _page_queries(client, name: str, version: str) -> list[str]:  # type: ignore[no-untyped-def]
    client.get(f"/registry/models/{name}/versions/{version}/")  # warm: the first view may fill caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/registry/models/{name}/versions/{version}/")
    assert response.status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def test_version_page_reads_each_thing_once_whatever_the_versions_and_approvals(mlflow, login, personas) -> None:
    small = make_model(scores=(0.80, 0.84))
    large = make_model(scores=tuple(0.70 + i / 100 for i in range(12)))
    top = large.versions[-1]
    for _ in range(2):  # a history of decisions, then a pending re-review
        request = approvals.approval_request_create(actor=personas["member_search"], model_name=large.name, version=top)
        approvals.approval_request_reject(actor=personas["lead_search"], request_id=request.pk, comment="not yet")
    approvals.approval_request_create(actor=personas["member_search"], model_name=large.name, version=top)
    call_command("registry_sync", "--wait")
    client = login("lead_search")

    plain = _page_queries(client, small.name, small.versions[-1])
    busy = _page_queries(client, large.name, top)

    for sql in (plain, busy):
        repeated = [(statement[:160], n) for statement, n in Counter(sql).items() if n > 1]
        assert not repeated, f"read more than once per request: {repeated}"
        assert len(sql) == VERSION_PAGE_QUERIES, "\n".join(s[:160] for s in sql)
    page = client.get(f"/registry/models/{large.name}/versions/{top}/").content.decode()
    assert "pending" in page and page.count("not yet") == 2  # the history the two queries read is all shown
