"""Issue 19 case 6 in a real browser at 1440 and 390 px: an operation is one row that opens to its items,
each event reads as one line with its details collapsed, and the page never scrolls sideways."""

from __future__ import annotations

import pytest

from mlopsadmin.audit.operations import audit_operation
from mlopsadmin.audit.services import audit_record
from tests.ui.conftest import page_overflow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": 1440, "phone": 390}


def _cleanup_operation(runs: int = 27) -> int:
    head = audit_record(
        actor="operator",
        action="cleanup.execute",
        target_kind="task",
        target_id="9001",
        before={"plan_id": 41, "candidates": runs},
        after={"plan_id": 41, "purge": False},
        reason="execute reviewed plan #41 (experiment /search/ranker/training)",
    )
    with audit_operation(head_id=head.id):
        for n in range(runs):
            audit_record(
                actor="operator",
                action="run.delete",
                target_kind="run",
                target_id=f"{n:032x}",
                team="search",
                before={"lifecycle_stage": "active", "status": "FAILED", "experiment_id": "12"},
                after={"lifecycle_stage": "deleted"},
                reason="cleanup plan #41: FAILED, ended 200 days ago",
            )
    return head.id


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_operation_row_opens_to_its_items(browser_login, live_server, shoot, width: int) -> None:  # type: ignore[no-untyped-def]
    head_id = _cleanup_operation()
    page = browser_login("auditor")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/audit/")
    row = page.locator(f"tr.audit-row[data-event-id='{head_id}']")
    action_cells = page.locator("tr.audit-row > td:nth-child(4) code", has_text="run.delete")
    assert action_cells.count() == 0  # folded, not 27 rows
    fold = row.locator("details.operation-items")
    assert "cleanup executed: 27 runs deleted" in fold.locator("summary").inner_text()
    items = fold.locator("li[data-item-id]")
    assert items.count() == 27 and not items.first.is_visible()
    fold.locator("summary").click()
    assert items.first.is_visible() and items.nth(26).count() == 1
    assert page_overflow(page) <= 0
    action = row.locator("td code").first
    assert action.bounding_box()["height"] < 24  # "cleanup.execute" on one line
    shoot(page, f"audit-list-operation-{width}")

    page.select_option("select[name=action]", "run.delete")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('tr.audit-row').length >= 27")
    assert "part of operation" in page.locator("tr.audit-row").first.inner_text()

    page.goto(f"{live_server.url}/audit/events/{head_id}/")
    assert "plan #41: 27 candidates" in page.locator(".event-summary").inner_text()
    details = page.locator("details.event-details")
    assert details.get_attribute("open") is None
    assert not details.locator("table.audit-diff").is_visible()
    details.locator("summary").click()
    assert details.locator("table.audit-diff").is_visible()
    assert page_overflow(page) <= 0
    shoot(page, f"audit-event-{width}")
