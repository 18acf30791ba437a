"""A lead promotes and rolls back by clicking on the aliases page (headless Chromium)."""

from __future__ import annotations

import pytest

from mlopsadmin.lib import mlflow_client as mlf
from tests.promotion.conftest import open_challenger_dialog


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_lead_promotes_and_rolls_back_by_clicking(browser_login, live_server, make_model) -> None:
    name = make_model([0.85, 0.80, 0.86], aliases={"champion": 1, "challenger": 2})
    page = browser_login("lead_search")
    page.goto(f"{live_server.url}/registry/models/{name}/aliases/")

    dialog = open_challenger_dialog(page, "3")
    assert "v2" in dialog.inner_text() and "v3" in dialog.inner_text()
    dialog.locator("button[data-confirm=challenger]").click()
    page.wait_for_selector("text=Challenger done")
    assert "v3" in page.inner_text("table.current-aliases tr[data-alias=challenger]")

    page.click("#promotion-panel a[data-action=promote]")
    dialog = page.locator("#dialog-slot dialog[open]")
    dialog.wait_for()
    assert "@previous-champion" in dialog.inner_text() and "passed" in dialog.inner_text()
    dialog.locator("button[data-confirm=promote]").click()
    page.wait_for_selector("table.current-aliases tr[data-alias=previous-champion]")
    assert "v3" in page.inner_text("table.current-aliases tr[data-alias=champion]")
    assert "Promote done" in page.inner_text("#messages")
    assert mlf.get_registered_model(name).aliases == {"champion": "3", "previous-champion": "1"}

    page.click("#promotion-panel a[data-action=rollback]")
    dialog = page.locator("#dialog-slot dialog[open]")
    dialog.wait_for()
    dialog.locator("textarea[name=reason]").fill("error rate up after release")
    dialog.locator("button[data-confirm=rollback]").click()
    page.wait_for_selector("table.current-aliases tr[data-alias=rolled-back]")
    assert "v1" in page.inner_text("table.current-aliases tr[data-alias=champion]")
    assert "error rate up after release" in page.inner_text("#alias-history")
    assert mlf.get_registered_model(name).aliases == {"champion": "1", "rolled-back": "3"}
    assert mlf.get_model_version(name, "3").tags["rollback_reason"] == "error rate up after release"
