"""In a real browser: each role logs in, visits every navigation item, logs out."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("username", ["lead_search", "operator", "auditor", "admin"])
def test_role_logs_in_visits_nav_and_logs_out(browser_login, live_server, mlflow, username: str) -> None:  # type: ignore[no-untyped-def]
    page = browser_login(username)
    labels = [link.inner_text().split("\n")[0].strip() for link in page.query_selector_all("nav.mainnav a[data-nav]")]
    assert labels[:5] == ["Home", "Catalog", "Registry", "Maintenance", "Checklists"]
    for index in range(len(labels)):
        link = page.query_selector_all("nav.mainnav a[data-nav]")[index]
        key = link.get_attribute("data-nav")
        link.click()
        page.wait_for_load_state()
        assert page.query_selector(f'nav.mainnav a[data-nav="{key}"].active') is not None, key
        assert "Traceback" not in page.content()
    page.click("text=Log out")
    page.wait_for_url("**/accounts/login/")
    page.goto(f"{live_server.url}/registry/")
    assert "/accounts/login/" in page.url


def test_htmx_is_served_locally(browser_login, live_server) -> None:  # type: ignore[no-untyped-def]
    page = browser_login("operator")
    assert page.evaluate("typeof window.htmx") == "object"
