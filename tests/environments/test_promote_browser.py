"""Issue 22 end to end in Chromium, across two real MLflow servers (dev: the default server; prod: the
second one): a member asks for prod's approval from the "Promote to prod" confirm page, a lead approves it
in the inbox, the copy is refused inline while prod is down (nothing written there), then lands once prod is back,
and the version page tells the story."""

from __future__ import annotations

import uuid

import pytest

from .helpers import configure, make_version, versions_on


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_promote_to_next_environment_in_the_browser(dev_mlflow, mlflow, browser_login, live_server) -> None:  # type: ignore[no-untyped-def]
    configure(
        {
            "dev": {"kind": "server", "tracking_uri": mlflow, "next": "prod"},
            "prod": {"kind": "server", "tracking_uri": dev_mlflow.url, "require_approval": True},
        }
    )
    name = f"search-ui-{uuid.uuid4().hex[:8]}"
    version = make_version(mlflow, name, score=0.7, description="browser copy")
    version_url = f"{live_server.url}/registry/models/{name}/versions/{version}/"

    page = browser_login("member_search")
    page.goto(version_url)
    assert "dev" in page.text_content("#environments .env-name")
    page.click("a[data-action=env-promote]")
    assert page.text_content(".env-gate-verdict").strip() == "failed"
    assert dev_mlflow.url in page.text_content(".env-target-server")
    assert "none approved" in page.text_content(".env-gate-reasons")
    page.fill("form.env-request-form textarea[name=comment]", "ready for prod")
    page.click("form.env-request-form button[type=submit]")
    page.wait_for_selector(".msg-success")
    assert "Approval for prod requested" in page.text_content(".msg-success")
    assert page.text_content(".env-approval-state").strip() == "pending"

    page.click("form[action='/accounts/logout/'] button")
    page = browser_login("lead_search")
    page.goto(f"{live_server.url}/registry/inbox/")
    row = page.locator("table.inbox tr[data-request]", has_text="ready for prod")
    row.locator("button[value=approve]").click()
    page.wait_for_selector(".msg-success")

    page.goto(version_url)
    page.click("a[data-action=env-promote]")
    assert page.text_content(".env-gate-verdict").strip() == "passed"
    dev_mlflow.stop()  # prod goes down between the confirm page and the click
    try:
        page.click("button[data-confirm=env-promote]")
        alert = page.wait_for_selector(".env-error")
        assert "unreachable" in alert.text_content()  # nothing was written: prod answered no read
    finally:
        dev_mlflow.start()
    assert versions_on(dev_mlflow.url, name) == []

    page.goto(version_url)
    page.click("a[data-action=env-promote]")
    page.click("button[data-confirm=env-promote]")
    page.wait_for_selector(".msg-success")
    assert f"{name} v1 on {dev_mlflow.url}" in page.text_content(".msg-success")
    assert f"copied from dev v{version} → prod v1" in page.text_content("ol.env-story")
    prod_row = page.wait_for_selector("table.env-side tr[data-env=prod]")  # loaded after the page (htmx)
    assert "up to date" in prod_row.text_content() and dev_mlflow.url in prod_row.text_content()
    copied = versions_on(dev_mlflow.url, name)
    assert [v["version"] for v in copied] == ["1"] and copied[0]["description"] == "browser copy"
    assert copied[0]["tags"]["approved_by"] == "lead_search"
