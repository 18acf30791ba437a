"""Issue 19 case 6 (part): the audit page's Action filter offers the recorded actions and their
families, and date presets (today, 7 days, 30 days) set 'since' keeping the other filters."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import unquote

import pytest
from django.utils import timezone

from mlopsadmin.audit.services import audit_record

pytestmark = pytest.mark.django_db


def test_action_picker_lists_recorded_actions_and_families(login) -> None:
    audit_record(actor="system:test", action="approval.request", target_kind="model_version", target_id="m/1")
    audit_record(actor="system:test", action="alias.promote", target_kind="model", target_id="m")
    page = login("auditor").get("/audit/").content.decode()
    picker = re.search(r'<select name="action">(.*?)</select>', page, re.S).group(1)
    options = re.findall(r'<option value="([^"]+)"', picker)
    assert {"alias.", "approval.", "alias.promote", "approval.request"} <= set(options)


def test_date_presets_set_since_and_keep_other_filters(login) -> None:
    audit_record(actor="system:test", action="team.create", target_kind="team", target_id="new-one")
    client = login("auditor")
    page = client.get("/audit/", {"action": "team."}).content.decode()
    presets = {
        label: q.replace("&amp;", "&")
        for q, label in re.findall(r'<a href="\?([^"]+)" data-preset="\d"[^>]*>([^<]+)</a>', page)
    }
    assert list(presets) == ["Today", "7 days", "30 days", "Any time"]
    query = presets["7 days"]
    assert "action=team." in query
    since = datetime.fromisoformat(unquote(re.search(r"since=([^&]+)", query).group(1)))
    expected = timezone.localtime().replace(tzinfo=None) - timedelta(days=7)
    assert abs((since - expected).total_seconds()) < 120
    today = datetime.fromisoformat(unquote(re.search(r"since=([^&]+)", presets["Today"]).group(1)))
    assert today == timezone.localtime().replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    filtered = client.get("/audit/?" + query).content.decode()
    assert "new-one" in filtered
    assert re.search(r'data-preset="2" aria-current="true">7 days<', filtered)  # the chosen preset is marked
    assert "since" not in presets["Any time"] and "action=team." in presets["Any time"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_auditor_uses_a_date_preset_and_the_action_list(browser_login, live_server) -> None:
    audit_record(actor="system:test", action="alias.promote", target_kind="model", target_id="m-preset")
    page = browser_login("auditor")
    page.goto(f"{live_server.url}/audit/")
    options = page.locator("select[name=action] option").evaluate_all("els => els.map(e => e.value)")
    assert "alias." in options and "alias.promote" in options
    page.click("a[data-preset='2']")  # 7 days
    page.wait_for_url("**/audit/?*since=*")
    assert page.input_value("input[name=since]").startswith(str(timezone.localdate() - timedelta(days=7)))
    assert page.locator("tr[data-event-id]").count() >= 1
    action = page.locator("table.audit-table td code").first
    box = action.bounding_box()
    assert box["height"] < 24  # one line: an action name never wraps mid-word


def test_event_diff_has_no_phantom_rows_and_rounds_floats() -> None:
    from mlopsadmin.audit.diff import state_diff

    lines = state_diff(
        {"tags": {}, "gate": {"value": 0.8400000000000001}},
        {"tags": {"approved_by": "lead"}, "gate": {"value": 0.8523456789}},
    )
    shown = {(line.path, line.change, line.before_text, line.after_text) for line in lines}
    assert ("tags", "removed", "{}", "") not in shown  # was a phantom "tags: removed {}" row
    assert ("tags.approved_by", "added", "", "lead") in shown
    assert ("gate.value", "changed", "0.84", "0.852346") in shown
    assert state_diff({"tags": {}}, {}) == []
