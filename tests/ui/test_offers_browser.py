"""Issue 19 cases 2, 4, 5 in Chromium: buttons by role and state, the Version dropdown, the badge."""

from __future__ import annotations

import pytest

from registry_ui.approvals import services


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_member_uses_the_version_dropdown_and_sees_no_promote_buttons(make_model, browser_login, live_server) -> None:
    name = make_model([0.85, 0.86, 0.87], aliases={"champion": 1})
    page = browser_login("member_search")
    page.goto(f"{live_server.url}/registry/models/{name}/")
    options = page.locator("#promotion-panel select[name=version] option")
    assert options.all_inner_texts() == ["v3", "v2", "v1 (@champion)"]
    assert page.locator("#promotion-panel [data-action=promote]").count() == 0
    assert page.locator("#promotion-panel [data-action=rollback]").count() == 0
    page.select_option("#promotion-panel select[name=version]", "3")
    page.click("#promotion-panel button[data-action=challenger]")
    dialog = page.locator("#dialog-slot dialog[open]")
    dialog.wait_for()
    assert "@challenger" in dialog.inner_text() and "v3" in dialog.inner_text()
    assert dialog.locator("button[data-confirm=challenger]").is_enabled()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_lead_sees_disabled_promote_without_challenger_and_badge_opens_inbox(
    make_model, browser_login, live_server, personas
) -> None:
    name = make_model([0.85, 0.86], aliases={"champion": 1})
    services.approval_request_create(actor=personas["member_search"], model_name=name, version="2")
    services.approval_request_create(actor=personas["lead_search"], model_name=name, version="1")
    page = browser_login("lead_search")
    page.goto(f"{live_server.url}/registry/models/{name}/aliases/")
    assert page.locator("#promotion-panel button[data-action=promote]").is_disabled()
    assert "no @challenger" in page.inner_text("#promote-why")
    assert page.locator("#promotion-panel button[data-action=rollback]").is_disabled()
    assert page.locator("table.current-aliases tr[data-alias]").count() == 1
    assert page.locator("[data-alias=champion]").count() == 1  # the aliases once, not twice
    badge = page.locator("#nav-badge-registry")
    assert badge.inner_text().strip() == "1"  # the member's request, not the lead's own
    badge.click()
    page.wait_for_url("**/registry/inbox/")
    assert page.locator("table.inbox tr[data-request]").count() == 2
