"""Issue 19 case 6: each audit event has a one-line summary ("@champion v1 → v2, gate 4/4 passed") in the
list and on its page, with the details (every key, the gate's rules) collapsed under it; gate numbers are
rounded; the Action filter is a list of known actions, not free text."""

from __future__ import annotations

import re
from html import unescape

import pytest

from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.models import AuditEvent
from registry_ui.promotion import services as promotion

pytestmark = pytest.mark.django_db


def _row(html: str, event_id: int) -> str:
    match = re.search(rf'<tr class="audit-row[^"]*" data-event-id="{event_id}"(.*?)</tr>', html, re.S)
    assert match, f"no row for event {event_id}"
    return unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


def test_promotion_reads_as_alias_moves_and_gate_result(make_model, personas, login) -> None:  # type: ignore[no-untyped-def]
    name = make_model([0.8123456789, 0.8523456789], aliases={"champion": 1, "challenger": 2})
    promotion.alias_promote(model_name=name, actor=personas["lead_search"])
    outcome = AuditEvent.objects.filter(target_id=name, action="model.promote", outcome="ok").get()
    rules = outcome.after["gate"]["rules"]
    checked = [r for r in rules if r["status"] != "skipped"]
    assert len(checked) >= 3
    client = login("auditor")
    row = " ".join(_row(client.get("/audit/").content.decode(), outcome.id).split())
    assert f"@champion v1 → v2, gate {len(checked)}/{len(checked)} passed" in row
    assert "@challenger v2 → –" in row or "@challenger removed" in row

    page = client.get(f"/audit/events/{outcome.id}/").content.decode()
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", page)).split())
    assert f"@champion v1 → v2, gate {len(checked)}/{len(checked)} passed" in text
    gate = re.search(r'<table class="grid gate-rules">(.*?)</table>', page, re.S)
    assert gate is not None, "the gate's rules as a table"
    assert "0.8523" in gate.group(1) and "0.8523456789" not in page  # rounded, everywhere on the page
    assert re.search(r"<details class=\"event-details\">", page)  # every key: collapsed, not open
    assert '<details class="event-details" open' not in page


def test_every_event_has_a_summary_line(login, personas) -> None:  # type: ignore[no-untyped-def]
    samples = [
        audit_record(
            actor="system:reaper",
            action="run.reap",
            target_kind="run",
            target_id="a" * 32,
            before={"status": "RUNNING"},
            after={"status": "FAILED", "mlopsadmin.reaped_at": "2026-11-29T10:00:00+00:00"},
        ),
        audit_record(
            actor="tester",
            action="config.update",
            target_kind="config",
            target_id="cleanup",
            before={"unit": "cleanup", "value": {"older_than_days": 90, "statuses": ["FAILED"]}},
            after={"unit": "cleanup", "value": {"older_than_days": 30, "statuses": ["FAILED"]}},
        ),
        audit_record(
            actor=personas["member_search"],
            action="approval.request",
            target_kind="model_version",
            target_id="search-x/3",
            after={"state": "pending", "version": "3", "tags": {}},
        ),
        audit_record(
            actor="tester", action="team.create", target_kind="team", target_id="t-new", after={"name": "t-new"}
        ),
        audit_record(actor="tester", action="something.unknown", target_kind="thing", target_id="x"),
    ]
    html = login("auditor").get("/audit/").content.decode()
    summaries = {e.action: " ".join(_row(html, e.id).split()) for e in samples}
    assert "status RUNNING → FAILED" in summaries["run.reap"]
    assert "older_than_days 90 → 30" in summaries["config.update"]
    assert "statuses" not in summaries["config.update"]  # unchanged keys are not the news
    assert "approval requested for search-x v3" in summaries["approval.request"]
    assert "tags" not in summaries["approval.request"]  # empty containers are no news
    assert "name t-new" in summaries["team.create"]
    assert re.search(r"<td class=\"summary\">\s*</td>", html) is None  # never an empty summary cell


def test_action_filter_is_a_list_of_known_actions(login) -> None:  # type: ignore[no-untyped-def]
    audit_record(actor="system:test", action="legacy.renamed_action", target_kind="x", target_id="1")
    page = login("auditor").get("/audit/", {"action": "run.delete"}).content.decode()
    select = re.search(r'<select name="action"[^>]*>(.*?)</select>', page, re.S)
    assert select is not None, "a picker, not a free-text box"
    assert 'name="action" value=' not in page and 'list="audit-actions"' not in page
    values = re.findall(r'<option value="([^"]*)"', select.group(1))
    assert values[0] == ""  # any action
    # every action the product writes is offered before it has ever been recorded, and its family
    for known in ("run.delete", "run.reap", "run.purge", "cleanup.execute", "model.promote", "approval.", "config."):
        assert known in values, known
    assert "legacy.renamed_action" in values  # recorded ones too
    assert re.search(r'<option value="run.delete" selected>', select.group(1))
    assert "<optgroup" in select.group(1)


def test_every_action_the_code_writes_is_a_known_action() -> None:
    """The Action filter offers every action before it is first recorded: each `action="x.y"` the
    product passes to audit_record is in the catalogue (mlopsadmin/audit/actions.py)."""
    from pathlib import Path

    from mlopsadmin.audit.actions import KNOWN_ACTIONS

    root = Path(__file__).resolve().parents[2]
    written: dict[str, str] = {}
    for path in root.rglob("*.py"):
        relative = path.relative_to(root).as_posix()
        if relative.startswith((".venv", "tests/", "bench/", "var/")) or "/migrations/" in relative:
            continue
        text = path.read_text(encoding="utf-8")
        for name in re.findall(r'\baudit_action="([a-z_]+\.[a-z_]+)"', text):
            written[name] = relative
        for name in re.findall(r'\baction="([a-z_]+\.[a-z_]+)"', text):
            written[name] = relative
        for family in re.findall(r'\baction=f"([a-z_]+\.)\{', text):
            written[family] = relative
    assert len(written) > 40
    known = set(KNOWN_ACTIONS)
    families = {name.split(".", 1)[0] + "." for name in known}
    missing = {n: f for n, f in written.items() if (n not in known if not n.endswith(".") else n not in families)}
    assert not missing, "add them to KNOWN_ACTIONS"
    assert "model.promote_gate_override" in known  # the only gated change: changes.py adds the suffix
