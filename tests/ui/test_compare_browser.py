"""Issue 19, compare versions and runs in Chromium: pick versions on the model page, read the table (each
metric's direction, best marked, differing rows highlighted) and the overlaid charts, choose rows, go on
to the runs; bad picks are said inline with the input kept; 390 px and 1440 px without sideways scroll."""

from __future__ import annotations

import pytest

from tests.registry.compare_data import make_compared_model
from tests.ui.conftest import page_overflow

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("drift_is_lower_is_better"),
]


def test_pick_versions_on_the_model_page_and_compare(browser_login, live_server, mlflow, shoot) -> None:
    name, run_ids = make_compared_model()
    page = browser_login("member_search")
    page.goto(f"{live_server.url}/registry/models/{name}/")
    page.check("#versions input[name=v][value='1']")
    page.check("#versions input[name=v][value='3']")
    page.click("#compare-selected")
    page.wait_for_url(f"**/registry/models/{name}/compare/?v=3&v=1")
    assert page.locator("table.compare-table thead th[data-column]").all_inner_texts()[0].strip().startswith("v3")
    loss = page.locator("table.compare-table tr[data-key=train_loss]")
    assert loss.get_attribute("data-direction") == "lower"
    assert "lower is better" in loss.inner_text()
    assert loss.locator("td.best").count() == 1 and loss.locator("td").nth(0).get_attribute("class") == "best"
    drift = page.locator("table.compare-table tr[data-key=drift_score]")  # lower from the configuration
    assert (
        drift.get_attribute("data-direction") == "lower" and drift.locator("td").nth(1).get_attribute("class") == "best"
    )
    assert "differs" in (page.locator("tr[data-kind=param][data-key=learning_rate]").get_attribute("class") or "")
    assert "differs" not in (page.locator("tr[data-kind=param][data-key=batch_size]").get_attribute("class") or "")
    chart = page.locator("section.compare-chart[data-metric=val_ndcg_at_10]")
    assert chart.locator("svg.chart-lines g.series polyline").count() == 2  # the two versions overlaid
    assert "20 points, last step 9" in chart.inner_text()
    shoot(page, "compare-versions-1440")

    page.locator("details.compare-rows summary").click()
    page.uncheck("input[name=metric][value=val_ndcg_at_10]")
    page.uncheck("input[name=metric][value=drift_score]")
    page.uncheck("input[name=tag][value=note]")
    page.click("#compare-submit")
    page.wait_for_url("**choose=1**")
    assert page.locator("tr[data-key=drift_score]").count() == 0
    assert page.locator("tr[data-key=val_ndcg_at_10]").count() == 0
    assert page.locator("section.compare-chart").count() == 0  # train_loss has one value per run: no chart
    assert "train_loss" in page.inner_text(".single-values")
    assert page.locator("tr[data-kind=tag][data-key=note]").count() == 0
    assert page.locator("tr[data-kind=tag][data-key=owner]").count() == 1

    page.click("text=Compare these runs")
    page.wait_for_url("**/registry/runs/compare/**")
    assert page.locator("table.compare-table thead th[data-column]").count() == 2
    assert page.input_value("#compare-runs").split() == [run_ids[2], run_ids[0]]
    shoot(page, "compare-runs-1440")


def test_bad_picks_are_said_inline_with_the_input_kept(browser_login, live_server, mlflow) -> None:
    name, run_ids = make_compared_model((0.8, 0.82))
    page = browser_login("auditor")  # read-only roles compare too
    page.goto(f"{live_server.url}/registry/models/{name}/")
    page.check("#versions input[name=v][value='2']")
    page.click("#compare-selected")
    page.wait_for_selector(".compare-problems")
    assert "Pick at least two versions to compare." in page.inner_text("#compare-picker .compare-problems")
    assert page.is_checked("#compare-picker input[name=v][value='2']")
    assert page.locator("table.compare-table").count() == 0

    page.goto(f"{live_server.url}/registry/runs/compare/")
    assert page.locator(".compare-problems").count() == 0  # a first visit asks, it does not complain
    page.fill("#compare-runs", f"{run_ids[0]}, nonsense")
    page.click("#compare-submit")
    page.wait_for_selector(".compare-problems")
    assert "'nonsense' is not a run id." in page.inner_text(".compare-problems")
    assert "nonsense" in page.input_value("#compare-runs")


def test_compare_pages_fit_a_phone_and_a_desktop(browser_login, live_server, mlflow, shoot) -> None:
    name, run_ids = make_compared_model()
    page = browser_login("lead_search")
    urls = {
        "compare-versions": f"/registry/models/{name}/compare/?v=1&v=2&v=3",
        "compare-runs": f"/registry/runs/compare/?runs={'+'.join(run_ids)}",
        "model-with-compare": f"/registry/models/{name}/",
    }
    for width in (390, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        for shot, path in urls.items():
            page.goto(live_server.url + path)
            page.wait_for_selector("main h1")
            assert page_overflow(page) <= 0, (shot, width)
            shoot(page, f"{shot}-{width}")


def test_versions_ticked_on_different_pages_are_compared_together(
    browser_login, live_server, mlflow, monkeypatch
) -> None:
    """Break-test (known leftover): the versions table is paged, and going to the next page dropped what was
    ticked on this one, so two versions on different pages could never be compared from the model page."""
    import registry_ui.views

    monkeypatch.setattr(registry_ui.views, "VERSIONS_PER_PAGE", 2)  # 4 versions: v4 v3 | v2 v1
    name, _ = make_compared_model((0.8, 0.82, 0.84, 0.86))
    page = browser_login("member_search")
    page.goto(f"{live_server.url}/registry/models/{name}/")
    page.check("#versions input[name=v][value='4']")
    page.click("#versions .pager >> text=older")
    page.wait_for_selector("#versions input[name=v][value='2']")
    page.check("#versions input[name=v][value='2']")
    assert "also ticked on other pages: v4" in page.inner_text("#versions .pager")
    page.click("#versions .pager >> text=newer")  # back: the tick is still there
    page.wait_for_selector("#versions input[name=v][value='4']")
    assert page.is_checked("#versions input[name=v][value='4']")
    assert not page.is_checked("#versions input[name=v][value='3']")
    page.click("#compare-selected")
    page.wait_for_url("**/compare/?**")
    columns = page.locator("table.compare-table thead th[data-column]").all_inner_texts()
    assert [c.split()[0] for c in columns] == ["v4", "v2"]
