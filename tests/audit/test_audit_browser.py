"""In a real browser: an auditor filters the audit page; the table updates in place and the URL follows."""

from __future__ import annotations

import pytest

from .conftest import record

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_auditor_filters_the_audit_page(browser_login, live_server, personas) -> None:  # type: ignore[no-untyped-def]
    for n in range(3):
        record(
            actor="lead_fraud",
            action="approval.decide",
            target_kind="model_version",
            target_id=f"fraud-detector/{n + 1}",
            team="fraud",
            reason=f"approved batch {n}",
        )
    record(
        actor="lead_search",
        action="alias.move",
        target_kind="model",
        target_id="search-ranker",
        team="search",
        reason="promotion of v2",
    )
    page = browser_login("auditor")
    page.goto(f"{live_server.url}/audit/")
    page.wait_for_selector("#audit-results")
    assert page.locator("#audit-results tbody tr[data-event-id]").count() >= 4
    page.evaluate("() => { window.__notReloaded = true; }")  # survives only an in-place (htmx) update
    page.select_option("select[name=action]", "approval.")  # the family: every approval action
    page.select_option("select[name=team]", "fraud")
    with page.expect_response(lambda r: "/audit/?" in r.url and r.request.headers.get("hx-request") == "true"):
        page.click("#audit-filters button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#audit-results tbody tr[data-event-id]').length === 3")
    assert page.evaluate("window.__notReloaded") is True
    assert page.url.endswith("/audit/?action=approval.&team=fraud")  # only the filters in use
    cells = page.locator("#audit-results tbody tr td:nth-child(4)").all_inner_texts()
    assert cells == ["approval.decide"] * 3
    export = page.get_attribute("a:has-text('Export CSV')", "href")
    assert "team=fraud" in export and "action=approval." in export
    # The shared URL reproduces the view without JavaScript state.
    page.goto(page.url)
    assert page.locator("#audit-results tbody tr[data-event-id]").count() == 3
    page.click("#audit-results tbody tr >> nth=0 >> a >> nth=0")
    page.wait_for_selector("h1:has-text('approval.decide')")
