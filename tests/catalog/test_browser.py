"""In a real browser: filter the catalog in place (URL kept shareable), then rename one experiment."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from catalog.sync import catalog_sync
from mlopsadmin.lib import mlflow_client as mlf
from tests.catalog.conftest import make_experiment


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_filter_catalog_and_rename(mlflow: str, browser_login, live_server, unique: str) -> None:  # type: ignore[no-untyped-def]
    name = f"/search-team/Browser_{unique}"
    experiment_id, _ = make_experiment(name, [{"team": "search"}])
    page = browser_login("lead_search")
    catalog_sync(full=True)
    page.goto(f"{live_server.url}/catalog/")
    page.fill("#f-q", f"browser_{unique}")
    expect(page).to_have_url(re.compile(rf"q=browser_{unique}"))
    table = page.locator("#catalog-table")
    table.locator(f"tr[data-experiment='{experiment_id}']").wait_for()
    assert table.locator("tr[data-experiment]").count() == 1
    page.select_option("select[name=kind]", "characters")
    expect(page).to_have_url(re.compile(r"kind=characters"))
    assert table.locator(f"tr[data-experiment='{experiment_id}']").count() == 1

    page.click(f"#catalog-table a:has-text('{name}')")
    suggested = f"/search-team/browser-{unique}/general"
    assert page.input_value("input[name=new_name]") == suggested
    assert "set_experiment" in page.content()
    page.click("button:has-text('Rename in MLflow')")
    page.wait_for_selector("#messages .msg-warning:has-text('will create a NEW experiment')")
    assert mlf.get_experiment(experiment_id).name == suggested
    assert page.locator("h1").inner_text() == suggested
