"""In a real browser: an operator creates the current checklists, ticks an item (htmx) and signs off."""

from __future__ import annotations

import pytest

from checklists.models import ChecklistInstance
from mlopsadmin.core.models import AuditEvent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operator_ticks_items_and_signs_off(browser_login, live_server, mlflow: str) -> None:  # type: ignore[no-untyped-def]
    page = browser_login("operator")
    page.click("nav.mainnav a[data-nav=checklists]")
    page.click("text=Create this period's checklists")
    page.wait_for_selector(".checklist-card")
    monthly = ChecklistInstance.objects.get(kind="monthly")
    page.click(f"a[href='/checklists/{monthly.pk}/']")
    page.wait_for_selector("#item-backup_restore")

    # Tick one item through htmx: the item is replaced in place, the page is not reloaded.
    page.evaluate("window.__marker = 'same-page'")
    item = page.locator("#item-backup_restore")
    item.locator("input[name=note]").fill("Restored yesterday's backup into staging")
    item.locator("input[name=evidence_link]").fill("https://wiki.example.com/restore-drill")
    item.locator("button[type=submit]").click()
    page.wait_for_selector("#item-backup_restore .checklist-tick")
    assert "Restored yesterday's backup into staging" in page.locator("#item-backup_restore").inner_text()
    assert page.locator("#item-backup_restore [data-status]").first.get_attribute("data-status") == "pass"
    assert page.evaluate("window.__marker") == "same-page"

    for key in ("storage_cost_lifecycle", "db_performance", "unused_models"):
        row = page.locator(f"#item-{key}")
        row.locator("input[name=note]").fill("reviewed")
        row.locator("button[type=submit]").click()
        page.wait_for_selector(f"#item-{key} .checklist-tick")

    page.click("#rerun-probes")
    page.wait_for_selector("text=Probes re-run")
    page.fill("#sign-off-form input[name=note]", "all good")
    page.click("#sign-off-form button[type=submit]")
    page.wait_for_selector("#signed-banner")
    assert "by operator" in page.locator("#signed-banner").inner_text()
    assert page.locator("form.tick-form").count() == 0
    monthly.refresh_from_db()
    assert monthly.is_signed and monthly.signed_off_name == "operator"
    assert AuditEvent.objects.filter(action="checklist.tick", target_id=str(monthly.pk)).count() == 4
    assert AuditEvent.objects.filter(action="checklist.sign_off", target_id=str(monthly.pk)).count() == 1
