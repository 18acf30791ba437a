"""Issue 19, "after a cleanup, restore": the runs a cleanup soft-deleted come back (MLflow `restore_run`
works until they are purged), per plan ("restore all", a task) and per run; purged runs are refused
clearly; one audit event per restored run; the catalog rescans the experiment at its next sync. Service,
page and API, against the real MLflow server."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone

from catalog.models import CatalogExperiment
from catalog.sync import catalog_sync
from maintenance.cleanup.execute import cleanup_plan_execute
from maintenance.cleanup.plan import cleanup_plan_create
from maintenance.cleanup.restore import cleanup_restore_all, cleanup_restore_run
from maintenance.models import CleanupPlan, PlanState, TaskKind, TaskState
from mlopsadmin import policy
from mlopsadmin.core.errors import Conflict, NotFound, RuleViolation
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.core.services import api_token_create
from mlopsadmin.lib import mlflow_client as mlf
from tests.maintenance.conftest import make_run
from tests.maintenance.test_reap_listed import run_here

pytestmark = pytest.mark.django_db


def store() -> str:
    return os.environ.get("MLOPSADMIN_TEST_MLFLOW_STORE") or settings.MLFLOW_BACKEND_STORE_URI


@pytest.fixture
def executed(personas, make_experiment, tmp_path):  # type: ignore[no-untyped-def]
    """execute(n, purge=False): a new experiment with n old FAILED runs, planned and executed in this
    process; returns (plan, run ids, experiment id)."""

    made: list[str] = []

    def _execute(n: int = 3, *, purge: bool = False) -> tuple[CleanupPlan, list[str], str]:
        artifacts = (tmp_path / f"artifacts-{len(made)}").as_uri()  # purged without any artifact server
        experiment_id, name = make_experiment(f"restore-{len(made)}", artifact_location=artifacts)
        made.append(experiment_id)
        runs = [make_run(experiment_id, status="FAILED", name=f"old-{i}") for i in range(n)]
        plan = cleanup_plan_create(actor=personas["operator"], scope="experiment", scope_value=name)
        assert run_here(plan.plan_task).state == TaskState.SUCCEEDED
        task = cleanup_plan_execute(actor=personas["operator"], plan_id=plan.pk, confirm=True, purge=purge)
        assert run_here(task).state == TaskState.SUCCEEDED
        plan.refresh_from_db()
        assert plan.state == PlanState.EXECUTED
        assert {mlf.get_run(r).lifecycle_stage for r in runs if not purge} <= {"deleted"}
        return plan, runs, experiment_id

    return _execute


def test_restore_one_run_then_all_the_rest(personas, executed) -> None:
    plan, runs, _ = executed(3)
    item = cleanup_restore_run(actor=personas["operator"], plan_id=plan.pk, run_id=runs[0])
    assert (item.restore_outcome, item.restored_by) == ("restored", "operator")
    assert mlf.get_run(runs[0]).lifecycle_stage == "active"
    assert mlf.get_run(runs[1]).lifecycle_stage == "deleted"
    with pytest.raises(Conflict, match="already restored"):
        cleanup_restore_run(actor=personas["operator"], plan_id=plan.pk, run_id=runs[0])

    task = cleanup_restore_all(actor=personas["operator"], plan_id=plan.pk)
    assert task.kind == TaskKind.CLEANUP_RESTORE and task.parameters["plan_id"] == plan.pk
    task = run_here(task)
    assert task.state == TaskState.SUCCEEDED, task.errors
    assert task.counts == {"restored": 2, "refused": 0, "skipped": 0, "failed": 0}
    assert {mlf.get_run(r).lifecycle_stage for r in runs} == {"active"}
    events = AuditEvent.objects.filter(action="run.restore", target_id__in=runs)
    assert sorted(events.values_list("target_id", flat=True)) == sorted(runs)  # one event per run
    assert all(e.before["lifecycle_stage"] == "deleted" and e.after["lifecycle_stage"] == "active" for e in events)
    assert AuditEvent.objects.filter(action="cleanup.restore", target_id=str(task.pk)).count() == 1
    with pytest.raises(Conflict, match="Nothing left to restore"):
        cleanup_restore_all(actor=personas["operator"], plan_id=plan.pk)


def test_purged_runs_are_refused_clearly(personas, executed) -> None:
    plan, runs, _ = executed(2, purge=True)
    with pytest.raises(RuleViolation, match=f"Run {runs[0]} was purged"):
        cleanup_restore_run(actor=personas["operator"], plan_id=plan.pk, run_id=runs[0])
    with pytest.raises(RuleViolation, match="All 2 runs this plan deleted were purged"):
        cleanup_restore_all(actor=personas["operator"], plan_id=plan.pk)
    assert not AuditEvent.objects.filter(action__in=["run.restore", "cleanup.restore"], target_id__in=runs).exists()

    plan, runs, _ = executed(3)
    assert mlf.purge_runs(store(), [runs[1]]).hard_deleted == [runs[1]]  # purged by hand after the cleanup
    mlf.restore_run(runs[2])  # restored outside mlopsadmin
    task = run_here(cleanup_restore_all(actor=personas["operator"], plan_id=plan.pk))
    assert task.state == TaskState.SUCCEEDED, task.errors
    assert task.counts == {"restored": 1, "refused": 1, "skipped": 1, "failed": 0}
    said = {r["run_id"]: r["reason"] for r in task.report["runs"]}
    assert said[runs[1]].startswith(f"Run {runs[1]} was purged (permanently deleted)")
    assert said[runs[2]] == "already active (restored outside mlopsadmin)"
    restored = AuditEvent.objects.filter(action="run.restore", target_id__in=runs)
    assert list(restored.values_list("target_id", flat=True)) == [runs[0]]
    items = {i.run_id: i for i in plan.items.all()}
    assert (items[runs[1]].restore_outcome, items[runs[2]].restore_outcome) == ("refused", "skipped")


def test_who_may_restore_is_who_may_run_cleanup(personas, executed) -> None:
    plan, runs, _ = executed(1)
    for user in personas.values():
        assert policy.can(user, policy.Action.CLEANUP_RESTORE) == policy.can(user, policy.Action.MAINTENANCE_RUN)
    for username in ("member_search", "lead_search", "auditor", "outsider"):
        with pytest.raises(PermissionDenied):
            cleanup_restore_run(actor=personas[username], plan_id=plan.pk, run_id=runs[0])
        with pytest.raises(PermissionDenied):
            cleanup_restore_all(actor=personas[username], plan_id=plan.pk)
    with pytest.raises(NotFound, match="No cleanup plan #999999"):
        cleanup_restore_run(actor=personas["admin"], plan_id=999999, run_id=runs[0])
    with pytest.raises(NotFound, match="not deleted by cleanup plan"):
        cleanup_restore_run(actor=personas["admin"], plan_id=plan.pk, run_id="f" * 32)
    assert mlf.get_run(runs[0]).lifecycle_stage == "deleted"


def test_catalog_rescans_the_experiment_after_a_restore(personas, executed) -> None:
    plan, runs, experiment_id = executed(2)
    plan.items.update(executed_at=timezone.now() - timedelta(days=1))  # the cleanup ran yesterday
    other = make_run(experiment_id, status="FINISHED", age_days=1, name="kept")
    catalog_sync(actor="system:test", full=True)
    row = CatalogExperiment.objects.get(experiment_id=experiment_id)
    assert row.run_count == 1 and row.last_activity > timezone.now() - timedelta(days=2)
    cleanup_restore_run(actor=personas["operator"], plan_id=plan.pk, run_id=runs[0])
    mlf.delete_run(other)  # one restored, one deleted elsewhere: MLflow's count of deleted runs is unchanged
    catalog_sync(actor="system:test", full=False)
    row = CatalogExperiment.objects.get(experiment_id=experiment_id)
    assert row.run_count == 1 and row.last_activity < timezone.now() - timedelta(days=100)  # runs[0], 200 days old


def test_page_and_api(client, personas, executed) -> None:
    plan, runs, _ = executed(3)
    for username, offered in (("member_search", False), ("auditor", False), ("operator", True), ("admin", True)):
        client.force_login(personas[username])
        page = client.get(f"/maintenance/plans/{plan.pk}/").content.decode()
        assert ('id="restore-all"' in page) is offered, username
        assert (f'data-restore="{runs[0]}"' in page) is offered, username
    client.force_login(personas["auditor"])
    assert client.post(f"/maintenance/plans/{plan.pk}/restore").status_code == 403
    client.force_login(personas["operator"])
    answer = client.post(f"/maintenance/plans/{plan.pk}/runs/{runs[0]}/restore", HTTP_HX_REQUEST="true")
    assert answer.status_code in (200, 204, 302), answer.content
    assert mlf.get_run(runs[0]).lifecycle_stage == "active"
    again = client.post(f"/maintenance/plans/{plan.pk}/runs/{runs[0]}/restore", HTTP_HX_REQUEST="true")
    assert again.status_code == 409 and "already restored" in again.content.decode()  # said inline (htmx)

    _, raw = api_token_create(actor=personas["operator"], user=personas["operator"], name="ci")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    one = api.post(f"/api/v1/maintenance/cleanup-plans/{plan.pk}/runs/{runs[1]}/restore")
    assert one.status_code == 200, one.content
    assert (one.json()["run_id"], one.json()["restore_outcome"]) == (runs[1], "restored")
    everything = api.post(f"/api/v1/maintenance/cleanup-plans/{plan.pk}/restore")
    assert everything.status_code == 202 and everything.json()["kind"] == "cleanup_restore"
    read = api.get(f"/api/v1/maintenance/cleanup-plans/{plan.pk}").json()
    assert {i["run_id"]: i["restore_outcome"] for i in read["items"]}[runs[1]] == "restored"
    doc = api.get("/api/v1/openapi.json").json()
    for path in (
        "/api/v1/maintenance/cleanup-plans/{plan_id}/restore",
        "/api/v1/maintenance/cleanup-plans/{plan_id}/runs/{run_id}/restore",
    ):
        assert doc["paths"][path]["post"]["summary"], path
