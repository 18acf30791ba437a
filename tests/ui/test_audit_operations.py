"""Issue 19 case 6: one audit row per operation with its items folded under it. A cleanup of 27 runs is
one row "cleanup executed: 27 runs deleted" that opens to its 27 run.delete events; each event stays
its own link in the hash chain. The reaper, a purge, apply_config and probe runs group the same way.
Handlers run in this process as the worker runs them, against the session's real MLflow server."""

from __future__ import annotations

import re

import pytest

from configuration.services import config_apply, config_export
from maintenance.cleanup.execute import cleanup_plan_execute
from maintenance.cleanup.plan import cleanup_plan_create
from maintenance.models import TaskState
from maintenance.reaper import reaper_start
from maintenance.tasks import task_run_execute
from mlopsadmin.audit.services import audit_verify_chain
from mlopsadmin.core.models import AuditEvent
from tests.maintenance.conftest import make_run

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def _run(task_run_id: int) -> None:
    from maintenance.models import TaskRun

    assert task_run_execute(task_run_id=task_run_id) == "done"
    run = TaskRun.objects.get(pk=task_run_id)
    assert run.state == TaskState.SUCCEEDED, run.errors


def _top_rows(html: str) -> dict[int, str]:
    """{event id: row html} of the audit table's top-level rows (operations and single events)."""
    return {
        int(i): row for i, row in re.findall(r'<tr class="audit-row[^"]*" data-event-id="(\d+)"(.*?)</tr>', html, re.S)
    }


def _cleanup(personas, make_experiment, runs: int, *, purge: bool = False) -> tuple[AuditEvent, list[str]]:  # type: ignore[no-untyped-def]
    experiment_id, _ = make_experiment("ops")
    run_ids = [make_run(experiment_id, status="FAILED", name=f"old-{i}") for i in range(runs)]
    plan = cleanup_plan_create(actor=personas["operator"], scope="experiment", scope_value=experiment_id)
    _run(plan.plan_task_id)
    execute = cleanup_plan_execute(actor=personas["operator"], plan_id=plan.pk, confirm=True, purge=purge)
    _run(execute.pk)
    head = AuditEvent.objects.get(action="cleanup.execute", target_kind="task", target_id=str(execute.pk))
    return head, run_ids


def test_cleanup_of_27_runs_is_one_row_with_its_27_deletes_folded(personas, make_experiment, login) -> None:  # type: ignore[no-untyped-def]
    head, run_ids = _cleanup(personas, make_experiment, 27)
    deletes = AuditEvent.objects.filter(action="run.delete", target_id__in=run_ids)
    assert deletes.count() == 27
    assert set(deletes.values_list("operation_id", flat=True)) == {head.id}  # every item names its operation
    assert head.operation_id is None
    assert audit_verify_chain(checkpoint=None).ok  # the items stay individual links of the chain

    client = login("auditor")
    page = client.get("/audit/").content.decode()
    rows = _top_rows(page)
    assert head.id in rows
    assert not set(deletes.values_list("id", flat=True)) & set(rows)  # no loose run.delete rows
    assert "cleanup executed: 27 runs deleted" in rows[head.id]
    folded = re.search(rf'<details class="operation-items" data-operation="{head.id}">(.*?)</details>', page, re.S)
    assert folded is not None
    assert len(re.findall(r"data-item-id=", folded.group(1))) == 27
    assert all(run_id in folded.group(1) for run_id in run_ids)

    # filtering on the items' action shows them one by one (their operation's row does not match)
    only_deletes = _top_rows(client.get("/audit/", {"action": "run.delete"}).content.decode())
    assert set(deletes.values_list("id", flat=True)) <= set(only_deletes)
    # the operation's own view: the head and its items, flat
    whole = _top_rows(client.get("/audit/", {"operation": head.id}).content.decode())
    assert set(whole) == {head.id, *deletes.values_list("id", flat=True)}
    api = client.get("/api/v1/audit-events", {"operation": head.id, "limit": 100}).json()["items"]
    assert {item["operation_id"] for item in api} == {None, head.id} and len(api) == 28


def test_purge_is_part_of_its_cleanup_operation(personas, make_experiment, settings, login) -> None:  # type: ignore[no-untyped-def]
    from tests.maintenance.test_plan_sources import _session_store

    settings.MLFLOW_BACKEND_STORE_URI = _session_store()
    head, run_ids = _cleanup(personas, make_experiment, 2, purge=True)
    purged = AuditEvent.objects.filter(action="run.purge", target_id__in=run_ids)
    assert purged.count() == 2  # a hard delete is a state change of its own, per run
    assert set(purged.values_list("operation_id", flat=True)) == {head.id}
    row = _top_rows(login("auditor").get("/audit/").content.decode())[head.id]
    assert "cleanup executed: 2 runs deleted, 2 runs purged" in row


def test_reaper_run_is_one_row_with_its_reaped_runs(personas, make_experiment, login) -> None:  # type: ignore[no-untyped-def]
    experiment_id, _ = make_experiment("reap-ops")
    stuck = [make_run(experiment_id, status="RUNNING", age_days=2, name=f"stuck-{i}") for i in range(3)]
    run = reaper_start(actor=personas["operator"], dry_run=False, threshold_hours=1, experiment=experiment_id)
    _run(run.pk)
    head = AuditEvent.objects.get(action="reaper.start", target_id=str(run.pk))
    reaped = AuditEvent.objects.filter(action="run.reap", target_id__in=stuck)
    assert reaped.count() == 3 and set(reaped.values_list("operation_id", flat=True)) == {head.id}
    row = _top_rows(login("auditor").get("/audit/").content.decode())[head.id]
    assert "reaper run: 3 runs reaped" in row


def test_apply_config_is_one_row_with_its_changes(personas, login) -> None:  # type: ignore[no-untyped-def]
    text = config_export()
    text = text.replace("older_than_days = 90", "older_than_days = 30")
    text = text.replace('reaper = "5 * * * *"', 'reaper = "off"')
    text = text.replace("churn = {threshold = 0.85}", "churn = {threshold = 0.85, require_approval = false}")
    config_apply(actor="tester", text=text, source="ops-test")
    events = list(AuditEvent.objects.filter(reason="apply_config ops-test").order_by("id"))
    assert len(events) == 3
    head = events[0]
    assert head.operation_id is None and {e.operation_id for e in events[1:]} == {head.id}
    rows = _top_rows(login("auditor").get("/audit/").content.decode())
    assert head.id in rows and not {e.id for e in events[1:]} & set(rows)
    assert "configuration applied: 3 updated" in rows[head.id]


def test_a_swept_task_is_an_item_of_its_operation(personas, make_experiment, settings) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    from maintenance.task_runs import task_runs_sweep_stale

    experiment_id, _ = make_experiment("sweep-ops")
    run = reaper_start(actor=personas["operator"], dry_run=True, experiment=experiment_id)  # queued, never picked up
    settings.MAINTENANCE_QUEUED_STALE_SECONDS = 0
    assert task_runs_sweep_stale(now=timezone.now() + timedelta(seconds=5)) >= 1
    head = AuditEvent.objects.get(action="reaper.start", target_id=str(run.pk))
    interrupt = AuditEvent.objects.get(action="task.interrupt", target_id=str(run.pk))
    assert interrupt.operation_id == head.id
