"""Instances, ticks, probe runs, sign-off and definition edits (services against the real MLflow server)."""

from __future__ import annotations

import datetime as dt

import pytest

from checklists import selectors, services
from checklists.models import ChecklistDefinition, ChecklistInstance, InstanceItem
from mlopsadmin.core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from mlopsadmin.core.models import AuditEvent

from .conftest import tick_all_manual

pytestmark = pytest.mark.django_db


def _events(instance: ChecklistInstance, action: str | None = None) -> int:
    events = AuditEvent.objects.filter(target_kind="checklist", target_id=str(instance.pk))
    return events.filter(action=action).count() if action else events.count()


def test_periods() -> None:
    assert services.period_for("weekly", dt.date(2026, 1, 1), "u")[:2] == ("2026-W01", dt.date(2025, 12, 29))
    assert services.period_for("weekly", dt.date(2024, 12, 30), "u")[0] == "2025-W01"
    assert services.period_for("monthly", dt.date(2026, 2, 14), "u") == (
        "2026-02",
        dt.date(2026, 2, 1),
        dt.date(2026, 2, 28),
    )
    assert services.period_for("monthly", dt.date(2026, 12, 31), "u")[2] == dt.date(2026, 12, 31)
    assert services.period_for("initial", dt.date(2026, 2, 14), "http://x")[0] == "initial:http://x"


def test_definitions_load_once(mlflow: str) -> None:
    services.definitions_sync()
    services.definitions_sync()
    assert ChecklistDefinition.objects.count() == 3
    assert AuditEvent.objects.filter(action="checklist.definition_load").count() == 3


def test_instances_are_created_idempotently(mlflow: str) -> None:
    day = dt.date(2026, 11, 18)
    first = services.instances_ensure(today=day)
    second = services.instances_ensure(today=day)
    assert [i.pk for i in first] == [i.pk for i in second]
    assert sorted(i.kind for i in first) == ["initial", "monthly", "weekly"]
    assert ChecklistInstance.objects.count() == 3
    assert AuditEvent.objects.filter(action="checklist.create").count() == 3
    weekly = ChecklistInstance.objects.get(kind="weekly")
    assert (weekly.period_key, weekly.period_end) == ("2026-W47", dt.date(2026, 11, 22))
    assert weekly.items.count() == 5
    assert ChecklistInstance.objects.get(kind="initial").tracking_uri == mlflow
    # Next week: a new weekly instance, the same monthly and initial ones.
    services.instances_ensure(today=day + dt.timedelta(days=7))
    assert ChecklistInstance.objects.filter(kind="weekly").count() == 2
    assert ChecklistInstance.objects.count() == 4


def test_probe_run_audits_each_changed_result_once(weekly: ChecklistInstance, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHECKLIST_LATENCY_P95_MS = 600_000
    settings.MAINTENANCE_REAPER_THRESHOLD_HOURS = 24 * 365 * 20
    changed = services.instance_probe_run(instance_id=weekly.pk)
    assert {i.key for i in changed} >= {"stuck_runs", "response_time"}
    assert _events(weekly, "checklist.probe_change") == len(changed)
    items = {i.key: i for i in weekly.items.all()}
    assert items["stuck_runs"].probe_status == "pass" and items["stuck_runs"].measured_at is not None
    assert items["response_time"].probe_status == "pass" and "P95" in items["response_time"].evidence
    # Nothing changed: measured again, no new audit event.
    assert services.instance_probe_run(instance_id=weekly.pk) == []
    assert _events(weekly, "checklist.probe_change") == len(changed)
    # A change of result is audited with before and after.
    settings.CHECKLIST_LATENCY_P95_MS = 0.0001
    assert [i.key for i in services.instance_probe_run(instance_id=weekly.pk)] == ["response_time"]
    event = AuditEvent.objects.filter(action="checklist.probe_change").first()
    assert event.before["status"] == "pass" and event.after["status"] == "fail"


def test_tick_needs_a_note_and_a_manual_item(monthly: ChecklistInstance, personas) -> None:  # type: ignore[no-untyped-def]
    operator = personas["operator"]
    with pytest.raises(InvalidInput):
        services.item_tick(instance_id=monthly.pk, key="backup_restore", actor=operator, note="  ")
    with pytest.raises(InvalidInput):
        services.item_tick(
            instance_id=monthly.pk, key="backup_restore", actor=operator, note="x", evidence_link="javascript:alert(1)"
        )
    with pytest.raises(RuleViolation):
        services.item_tick(instance_id=monthly.pk, key="mlflow_version", actor=operator, note="x")
    with pytest.raises(NotFound):
        services.item_tick(instance_id=monthly.pk, key="nope", actor=operator, note="x")
    assert _events(monthly, "checklist.tick") == 0
    item = services.item_tick(
        instance_id=monthly.pk,
        key="backup_restore",
        actor=operator,
        note="Restored last night's dump to staging",
        evidence_link="https://wiki/restore-42",
    )
    assert (item.status, item.ticked_by_name) == ("pass", "operator")
    event = AuditEvent.objects.get(action="checklist.tick")
    assert event.after["key"] == "backup_restore" and event.actor_name == "operator"


def test_sign_off_freezes_the_instance(monthly: ChecklistInstance, personas, settings) -> None:  # type: ignore[no-untyped-def]
    operator = personas["operator"]
    services.instance_probe_run(instance_id=monthly.pk)
    with pytest.raises(RuleViolation, match="not ticked"):
        services.instance_sign_off(instance_id=monthly.pk, actor=operator)
    tick_all_manual(monthly, operator)
    services.item_tick(
        instance_id=monthly.pk, key="db_performance", actor=operator, outcome="fail", note="slow queries on runs table"
    )
    with pytest.raises(InvalidInput, match="note"):
        services.instance_sign_off(instance_id=monthly.pk, actor=operator)
    services.instance_sign_off(instance_id=monthly.pk, actor=operator, note="index ticket OPS-12 opened")
    frozen = {i.key: (i.status, i.evidence, i.measured_at, i.note, i.ticked_by_name) for i in monthly.items.all()}
    events = _events(monthly)
    assert AuditEvent.objects.get(action="checklist.sign_off").after["items"]["db_performance"] == "fail"

    with pytest.raises(Conflict, match="signed off by operator"):
        services.item_tick(instance_id=monthly.pk, key="backup_restore", actor=operator, note="again")
    with pytest.raises(Conflict):
        services.instance_probe_run(instance_id=monthly.pk)
    with pytest.raises(Conflict):
        services.instance_sign_off(instance_id=monthly.pk, actor=personas["admin"], note="again")
    assert {
        i.key: (i.status, i.evidence, i.measured_at, i.note, i.ticked_by_name)
        for i in InstanceItem.objects.filter(instance=monthly)
    } == frozen
    assert _events(monthly) == events
    monthly.refresh_from_db()
    assert monthly.signed_off_name == "operator" and monthly.sign_off_note == "index ticket OPS-12 opened"


def test_definition_edit_makes_a_new_version_and_keeps_history(weekly: ChecklistInstance, personas) -> None:  # type: ignore[no-untyped-def]
    admin = personas["admin"]
    current = services.latest_definition("weekly")
    items = [(i.key, i.text, i.position) for i in current.items.all()]
    edited = [
        (key, "Weekly: " + text if key == "stuck_runs" else text, 1 if key == "response_time" else pos + 1)
        for key, text, pos in items
    ]
    new = services.definition_edit(
        actor=admin, kind="weekly", items=edited, expected_version=current.version, note="latency first"
    )
    assert new.version == current.version + 1 and new.source == "ui"
    assert [i.key for i in new.items.all()][0] == "response_time"
    assert new.items.get(key="stuck_runs").text.startswith("Weekly: ")
    assert new.items.get(key="stuck_runs").probe == "stuck_runs"
    # The existing instance keeps its wording; the next week's uses the new version.
    assert not weekly.items.get(key="stuck_runs").text.startswith("Weekly: ")
    later, _ = services.instance_create(kind="weekly", today=weekly.period_start + dt.timedelta(days=7))
    assert later.items.get(key="stuck_runs").text.startswith("Weekly: ")
    assert later.items.order_by("position").first().key == "response_time"
    assert AuditEvent.objects.filter(action="checklist.definition_edit", target_id="definition/weekly").count() == 1
    with pytest.raises(Conflict):
        services.definition_edit(actor=admin, kind="weekly", items=edited, expected_version=current.version)
    with pytest.raises(InvalidInput):
        services.definition_edit(actor=admin, kind="weekly", items=edited[:2], expected_version=new.version)
    with pytest.raises(InvalidInput):
        services.definition_edit(
            actor=admin, kind="weekly", items=[(k, "", p) for k, _, p in edited], expected_version=new.version
        )
    # Loading the code files again does not overwrite the admin's edit.
    services.definitions_sync()
    assert services.latest_definition("weekly").pk == new.pk


def test_overdue_instances_show_on_the_home_tile(mlflow: str, personas) -> None:  # type: ignore[no-untyped-def]
    from checklists.dashboard import checklist_badge, checklist_tiles

    old, _ = services.instance_create(kind="weekly", today=dt.date.today() - dt.timedelta(days=21))
    services.instance_create(kind="weekly")
    assert [i.pk for i in selectors.overdue_instances()] == [old.pk]
    tile = checklist_tiles(personas["operator"])[0]
    assert tile.level == "critical" and tile.value == "1 overdue"
    assert any("Overdue" in line for line in tile.items)
    assert checklist_badge(personas["operator"]) == 1
