"""Issue 19, "after a reaper dry run, reap these now": exactly the runs the dry run listed are reaped, each
re-checked by the reaper's own rule at that moment (one that came alive meanwhile is skipped and said so),
audited; through the service, the page and the API, against the real MLflow server."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from maintenance.models import ReapItem, TaskKind, TaskRun, TaskState
from maintenance.reap_listed import reaper_reap_listed
from maintenance.reaper import reaper_start
from maintenance.tasks import task_run_execute
from mlopsadmin.core.errors import Conflict, NotFound, RuleViolation
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.core.services import api_token_create
from mlopsadmin.lib import mlflow_client as mlf
from tests.maintenance.conftest import make_run

pytestmark = pytest.mark.django_db


def run_here(task: TaskRun) -> TaskRun:
    """Run a queued TaskRun in this process, as a worker would, and read it back."""
    task_run_execute(task_run_id=task.pk)
    return TaskRun.objects.get(pk=task.pk)


@pytest.fixture
def dry_run(personas, make_experiment):  # type: ignore[no-untyped-def]
    """A finished dry run over a new experiment that listed three stuck runs."""
    experiment_id, _ = make_experiment("reap-listed")
    stuck = [make_run(experiment_id, status="RUNNING", age_days=3, name=f"stuck-{i}") for i in range(3)]
    started = reaper_start(actor=personas["operator"], dry_run=True, threshold_hours=24, experiment=experiment_id)
    task = run_here(started)
    assert task.state == TaskState.SUCCEEDED and task.counts["stuck"] == 3
    return task, experiment_id, stuck


def test_reaps_exactly_the_listed_runs_and_skips_one_that_came_alive(personas, dry_run) -> None:
    task, experiment_id, stuck = dry_run
    assert set(ReapItem.objects.filter(dry_run=task).values_list("run_id", flat=True)) == set(stuck)
    not_listed = make_run(experiment_id, status="RUNNING", age_days=3, name="stuck-after-the-dry-run")
    revived = stuck[2]
    mlf.log_batch(revived, metrics=[("loss", 0.1, int(time.time() * 1000), 7)])  # alive again

    reap = reaper_reap_listed(actor=personas["operator"], dry_run_id=task.pk)
    assert reap.kind == TaskKind.REAPER and reap.parameters["listed_from"] == task.pk
    reap = run_here(reap)
    assert reap.state == TaskState.SUCCEEDED, reap.errors
    assert reap.counts == {"listed": 3, "reaped": 2, "skipped": 1, "failed": 0}
    assert {mlf.get_run(r).status for r in stuck[:2]} == {"FAILED"}
    assert mlf.get_run(revived).status == "RUNNING"
    assert mlf.get_run(not_listed).status == "RUNNING"  # stuck too, but not on the reviewed list
    said = {r["run_id"]: r for r in reap.report["runs"]}
    assert said[revived]["outcome"] == "skipped"
    assert said[revived]["reason"].startswith("came alive since the dry run: last sign of life")
    assert {said[r]["outcome"] for r in stuck[:2]} == {"reaped"}
    item = ReapItem.objects.get(dry_run=task, run_id=revived)
    assert (item.outcome, item.reap_task_id) == ("skipped", reap.pk) and "came alive" in item.outcome_reason
    assert set(AuditEvent.objects.filter(action="run.reap").values_list("target_id", flat=True)) >= set(stuck[:2])
    assert not AuditEvent.objects.filter(action="run.reap", target_id__in=[revived, not_listed]).exists()
    started = AuditEvent.objects.get(action="reaper.reap_listed", target_id=str(reap.pk))
    assert started.after["listed_from"] == task.pk and started.after["runs"] == 3

    with pytest.raises(Conflict, match=f"already reaped by task #{reap.pk}"):
        reaper_reap_listed(actor=personas["operator"], dry_run_id=task.pk)


def test_refusals_are_clear_and_change_nothing(personas, dry_run) -> None:
    task, _, stuck = dry_run
    with pytest.raises(PermissionDenied):
        reaper_reap_listed(actor=personas["member_search"], dry_run_id=task.pk)
    with pytest.raises(PermissionDenied):
        reaper_reap_listed(actor=personas["auditor"], dry_run_id=task.pk)
    with pytest.raises(NotFound, match="No task run #999999"):
        reaper_reap_listed(actor=personas["operator"], dry_run_id=999999)
    real = TaskRun.objects.create(kind=TaskKind.REAPER, started_by="x", parameters={"dry_run": False})
    with pytest.raises(RuleViolation, match="not a reaper dry run"):
        reaper_reap_listed(actor=personas["operator"], dry_run_id=real.pk)
    TaskRun.objects.filter(pk=real.pk).update(state=TaskState.SUCCEEDED)
    running = TaskRun.objects.create(kind=TaskKind.REAPER, started_by="x", parameters={"dry_run": True})
    with pytest.raises(Conflict, match="has not finished"):
        reaper_reap_listed(actor=personas["operator"], dry_run_id=running.pk)
    assert {mlf.get_run(r).status for r in stuck} == {"RUNNING"}
    assert not AuditEvent.objects.filter(action="reaper.reap_listed").exists()


def test_page_offers_the_button_to_those_who_may_and_the_api_reaps(client, personas, dry_run) -> None:
    task, _, stuck = dry_run
    for username, offered in (("member_search", False), ("auditor", False), ("operator", True), ("admin", True)):
        client.force_login(personas[username])
        page = client.get(f"/maintenance/tasks/{task.pk}/").content.decode()
        assert ('id="reap-listed"' in page) is offered, username
        assert ("Reap these 3 runs now" in page) is offered, username
    client.force_login(personas["member_search"])
    assert client.post(f"/maintenance/tasks/{task.pk}/reap").status_code == 403

    _, raw = api_token_create(actor=personas["operator"], user=personas["operator"], name="ci")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    answer = api.post(f"/api/v1/maintenance/reaper/{task.pk}/reap")
    assert answer.status_code == 202, answer.content
    assert answer.json()["parameters"]["listed_from"] == task.pk
    run_here(TaskRun.objects.get(pk=answer.json()["id"]))
    assert {mlf.get_run(r).status for r in stuck} == {"FAILED"}
    again = api.post(f"/api/v1/maintenance/reaper/{task.pk}/reap")
    assert again.status_code == 409 and "already reaped" in again.json()["detail"]
    client.force_login(personas["operator"])
    page = client.get(f"/maintenance/tasks/{task.pk}/").content.decode()
    assert 'id="reap-listed"' not in page and "already reaped by task" in page
    doc = api.get("/api/v1/openapi.json").json()
    assert "post" in doc["paths"]["/api/v1/maintenance/reaper/{task_run_id}/reap"]
