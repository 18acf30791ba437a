"""End to end in Chromium: a member requests approval, an ML lead approves it from the inbox."""

from __future__ import annotations

import pytest

from mlopsadmin.lib import mlflow_client as mlf


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_member_requests_and_lead_approves_from_inbox(own_model, browser_login, live_server) -> None:
    page = browser_login("member_search")
    page.goto(f"{live_server.url}/registry/models/{own_model.name}/versions/2/")
    page.wait_for_selector("figure.chart polyline")  # the chart is read from MLflow after the page (htmx)
    assert page.locator("figure.chart polyline").count() == 2  # champion vs candidate chart is drawn
    page.fill("form.request-form textarea[name=comment]", "beats the champion on ndcg")
    page.click("form.request-form button[type=submit]")
    page.wait_for_selector(".msg-success")
    assert page.text_content(".approval-state").strip() == "pending"
    assert page.locator("form.decide-form").count() == 0  # the requester gets no decide buttons

    page.click("form[action='/accounts/logout/'] button")
    page = browser_login("lead_search")
    assert page.text_content("#nav-badge-registry").strip() == "1"
    page.click("a[data-nav=registry]")
    page.click("text=Approval inbox")
    row = page.locator("table.inbox tr[data-request]")
    assert row.count() == 1 and "beats the champion on ndcg" in row.text_content()
    row.locator("input[name=comment]").fill("looks good")
    row.locator("button[value=approve]").click()
    page.wait_for_selector(".msg-success")
    assert "approved" in page.text_content(".msg-success")
    assert "Nothing waiting for your decision" in page.text_content("table.inbox")
    assert page.locator("#nav-badge-registry").count() == 0
    tags = mlf.get_model_version(own_model.name, "2").tags
    assert tags["approved_by"] == "lead_search" and tags["approval_date"]
