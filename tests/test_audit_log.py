"""The audit log is append-only and hash-chained."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from mlopsadmin.audit.services import audit_record, audit_verify_chain
from mlopsadmin.core.models import AuditEvent, AuditImmutableError


@pytest.mark.django_db
def test_events_chain_and_verify() -> None:
    first = audit_record(
        actor="system:test",
        action="thing.create",
        target_kind="thing",
        target_id="1",
        after={"a": 1, "password": "hunter2"},
    )
    second = audit_record(
        actor="system:test", action="thing.update", target_kind="thing", target_id="1", before={"a": 1}, after={"a": 2}
    )
    assert second.prev_hash == first.event_hash
    assert first.after == {"a": 1, "password": "[redacted]"}
    report = audit_verify_chain()
    assert report.ok and report.checked == 2


@pytest.mark.django_db
def test_orm_cannot_change_or_delete_events() -> None:
    event = audit_record(actor="system:test", action="x", target_kind="thing", target_id="1")
    event.reason = "rewritten"
    with pytest.raises(AuditImmutableError):
        event.save()
    with pytest.raises(AuditImmutableError):
        event.delete()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="x")
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.all().delete()


@pytest.mark.django_db
def test_tampering_by_sql_is_detected() -> None:
    audit_record(actor="system:test", action="a", target_kind="thing", target_id="1")
    victim = audit_record(actor="system:test", action="b", target_kind="thing", target_id="2", reason="original")
    audit_record(actor="system:test", action="c", target_kind="thing", target_id="3")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks may block ALTER TABLE
            cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_append_only")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditevent SET reason = 'forged' WHERE id = %s", [victim.pk])
    report = audit_verify_chain()
    assert not report.ok and report.first_break_id == victim.pk


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_trigger_refuses_update_and_delete() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL pointing at PostgreSQL")
    event = audit_record(actor="system:test", action="a", target_kind="thing", target_id="1")
    for statement in (
        "UPDATE core_auditevent SET reason = 'x' WHERE id = %s",
        "DELETE FROM core_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()
