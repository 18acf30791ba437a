"""Issue 19 in a real browser at 1440 and 390 px: sorting the catalog and registry tables by their headers
updates the table in place (htmx) keeping the filters, a later filter change keeps the sort, and the top
bar's search box leads to the results; no page scrolls sideways."""

from __future__ import annotations

import pytest

from catalog.sync import catalog_sync
from tests.registry.conftest import make_model
from tests.ui.conftest import page_overflow
from tests.ui.test_sort_search import _experiments

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": 1440, "phone": 390}
ROWS = "() => [...document.querySelectorAll('#catalog-table tr[data-experiment]')].map(r => r.dataset.experiment)"
MODELS = "() => [...document.querySelectorAll('#models tr[data-model]')].map(r => r.dataset.model)"


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_catalog_header_sort_in_place_keeps_filters(browser_login, live_server, mlflow, shoot, unique, width) -> None:  # type: ignore[no-untyped-def]
    ids = _experiments(unique, [2, 0, 5])
    catalog_sync(full=True)
    page = browser_login("member_search")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/catalog/?q={unique}")
    page.evaluate("() => { window.__notReloaded = true; }")
    with page.expect_response(lambda r: "sort=-runs" in r.url):
        page.click("#catalog-table th a:has-text('Runs')")
    page.wait_for_function(f"() => ({ROWS})()[0] === '{ids[2]}'")
    assert page.evaluate(ROWS) == [ids[2], ids[0], ids[1]]
    assert page.evaluate("window.__notReloaded") is True
    assert f"q={unique}" in page.url and "sort=-runs" in page.url
    assert page.get_attribute("#catalog-table th[aria-sort]", "aria-sort") == "descending"
    with page.expect_response(lambda r: "status=" in r.url):  # a filter change keeps the sort
        page.select_option("select[name=status]", "compliant")
    page.wait_for_url("**sort=-runs**")
    assert page_overflow(page) <= 0
    shoot(page, f"catalog-sorted-{width}")


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_registry_header_sort_in_place(browser_login, live_server, mlflow, shoot, unique, width) -> None:  # type: ignore[no-untyped-def]
    names = [make_model(prefix=f"search-{unique}{c}", scores=s).name for c, s in (("a", (0.8,)), ("b", (0.8, 0.81)))]
    page = browser_login("member_search")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/registry/?q={unique}")
    assert page.evaluate(MODELS) == names
    page.evaluate("() => { window.__notReloaded = true; }")
    page.click("#models th a:has-text('Latest')")
    page.wait_for_function(f"() => ({MODELS})()[0] === '{names[1]}'")
    assert page.evaluate("window.__notReloaded") is True and "sort=-latest" in page.url
    assert page_overflow(page) <= 0
    shoot(page, f"registry-sorted-{width}")


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_top_bar_search_finds_a_version(browser_login, live_server, mlflow, shoot, width) -> None:  # type: ignore[no-untyped-def]
    model = make_model(scores=(0.8, 0.82))
    page = browser_login("lead_search")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/maintenance/")
    box = page.locator("header form[role=search] input[name=q]")
    assert box.is_visible() and box.bounding_box()["width"] >= 80
    assert page_overflow(page) <= 0
    box.fill(f"{model.name} v2")
    box.press("Enter")
    page.wait_for_url("**/search/?q=*")
    result = page.locator("section[data-kind=versions] a.result")
    assert result.inner_text() == f"{model.name} v2"
    assert page_overflow(page) <= 0
    shoot(page, f"search-results-{width}")
    result.click()
    page.wait_for_url(f"**/registry/models/{model.name}/versions/2/")
