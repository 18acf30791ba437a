"""Tampering with a stored event is found by the verify page and by `manage.py verify_audit`."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from .conftest import record

pytestmark = pytest.mark.django_db


def tamper(sql: str, params: list) -> None:  # type: ignore[type-arg]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses while FK checks are pending
            cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_append_only")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER core_auditevent_append_only")


def test_intact_chain_passes_page_and_command(login, sample_events, capsys) -> None:  # type: ignore[no-untyped-def]
    response = login("auditor").get(reverse("audit:verify"), {"run": "1"})
    assert response.context["report"].ok and response.context["report"].checked >= len(sample_events)
    assert 'data-ok="true"' in response.content.decode()
    call_command("verify_audit")
    assert "intact" in capsys.readouterr().out


@pytest.mark.parametrize("change", ["reason", "after", "delete"])
def test_tampering_is_detected(login, sample_events, change) -> None:  # type: ignore[no-untyped-def]
    victim = sample_events[3]
    if change == "reason":
        tamper("UPDATE core_auditevent SET reason = 'nothing to see' WHERE id = %s", [victim.id])
    elif change == "after":
        tamper(
            "UPDATE core_auditevent SET after = %s WHERE id = %s", ['{"alias": "champion", "version": "9"}', victim.id]
        )
    else:
        tamper("DELETE FROM core_auditevent WHERE id = %s", [victim.id])
    expected = victim.id if change != "delete" else sample_events[4].id
    response = login("auditor").get(reverse("audit:verify"), {"run": "1"})
    report = response.context["report"]
    assert not report.ok and report.first_break_id == expected
    assert (
        'data-ok="false"' in response.content.decode()
        and f'event <a href="/audit/events/{expected}/"' in response.content.decode()
    )
    with pytest.raises(CommandError, match=f"BROKEN at event {expected}") as error:
        call_command("verify_audit")
    assert error.value.returncode == 1


def test_verify_command_exit_code_from_the_shell(sample_events) -> None:  # type: ignore[no-untyped-def]
    """A monitor runs the command and looks only at the exit code."""
    from django.core.management import execute_from_command_line

    tamper("UPDATE core_auditevent SET team = 'other' WHERE id = %s", [sample_events[0].id])
    with pytest.raises(SystemExit) as exit_info:
        execute_from_command_line(["manage.py", "verify_audit"])
    assert exit_info.value.code == 1


def test_verify_page_is_for_auditors_and_admins(login, sample_events) -> None:  # type: ignore[no-untyped-def]
    assert login("admin").get(reverse("audit:verify")).status_code == 200
    assert login("lead_search").get(reverse("audit:verify"), {"run": "1"}).status_code == 403
    assert login("operator").get(reverse("audit:verify")).status_code == 403


@pytest.mark.postgres
def test_tampering_detected_on_postgres(login, sample_events) -> None:  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL pointing at PostgreSQL")
    tamper("UPDATE core_auditevent SET actor_name = 'someone_else' WHERE id = %s", [sample_events[1].id])
    report = login("auditor").get(reverse("audit:verify"), {"run": "1"}).context["report"]
    assert report.first_break_id == sample_events[1].id
    record(action="after.tamper")  # the trigger is back on: the table is append-only again
    with pytest.raises(Exception, match="append-only"), connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [sample_events[0].id])
