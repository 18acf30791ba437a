"""The maintenance page, plan review, progress fragment, home tiles and the JSON API (no worker: tasks
are queued but not run; the worker flows are in test_worker_flows.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from maintenance.models import CleanupPlan, PlanItem, PlanState, TaskKind, TaskRun, TaskState
from mlopsadmin.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def _plan(**fields: object) -> CleanupPlan:
    values = {
        "scope": "all",
        "older_than_days": 90,
        "statuses": ["FAILED", "KILLED"],
        "cutoff_ms": 0,
        "state": PlanState.READY,
        "created_by": "operator",
        "candidate_count": 1,
        "excluded_count": 1,
        "planned_at": timezone.now(),
        **fields,
    }
    plan = CleanupPlan.objects.create(**values)
    PlanItem.objects.create(
        plan=plan,
        run_id="c" * 32,
        experiment_id="1",
        experiment_name="/search-team/a/b",
        status="FAILED",
        reason="FAILED, ended long ago",
        estimated_bytes=2048,
    )
    PlanItem.objects.create(
        plan=plan, run_id="k" * 32, experiment_id="1", status="FAILED", excluded=True, reason="tagged keep=true"
    )
    return plan


def test_operator_sees_triggers_and_schedules(login) -> None:  # type: ignore[no-untyped-def]
    page = login("operator").get("/maintenance/").content.decode()
    assert "Make a plan" in page and "Run reaper" in page and "Check capacity" in page
    assert "maintenance.tasks.reap_stuck_runs_scheduled" not in page  # entries shown by key and words
    assert "Stuck-run reaper: every hour at :05" in page and "5 * * * *" in page


def test_member_sees_page_but_cannot_start_anything(login) -> None:  # type: ignore[no-untyped-def]
    client = login("member_search")
    assert "Make a plan" not in client.get("/maintenance/").content.decode()
    assert client.post("/maintenance/capacity/start").status_code == 403
    assert client.post("/maintenance/plans/new", {"scope": "all"}).status_code == 403
    assert not TaskRun.objects.exists()


def test_bad_form_input_is_a_400_and_changes_nothing(login) -> None:  # type: ignore[no-untyped-def]
    client = login("operator")
    response = client.post("/maintenance/plans/new", {"scope": "all", "older_than_days": "-5"})
    assert response.status_code == 400
    assert client.post("/maintenance/reaper/start", {"threshold_hours": "abc"}).status_code == 400
    assert not TaskRun.objects.exists() and not CleanupPlan.objects.exists()


def test_progress_fragment_polls_while_running_and_stops_when_done(login) -> None:  # type: ignore[no-untyped-def]
    client = login("operator")
    run = TaskRun.objects.create(
        kind=TaskKind.CAPACITY,
        started_by="operator",
        state=TaskState.RUNNING,
        progress_done=3,
        progress_total=12,
        heartbeat_at=timezone.now(),
    )
    url = f"/maintenance/tasks/{run.pk}/progress"
    running = client.get(url, HTTP_HX_REQUEST="true")
    body = running.content.decode()
    assert running.status_code == 200
    assert 'hx-trigger="every 2s, poll:now" data-poll' in body  # polls; app.js rests it in a hidden tab
    assert '<progress max="12" value="3"' in body
    TaskRun.objects.filter(pk=run.pk).update(state=TaskState.SUCCEEDED, progress_done=12)
    done = client.get(url, HTTP_HX_REQUEST="true")
    assert done.status_code == 286  # htmx stops polling
    assert "hx-trigger" not in done.content.decode() and "succeeded" in done.content.decode()


def test_plan_review_page_lists_candidates_and_exclusions(login) -> None:  # type: ignore[no-untyped-def]
    plan = _plan()
    client = login("operator")
    page = client.get(f"/maintenance/plans/{plan.pk}/").content.decode()
    assert "c" * 32 in page and "k" * 32 not in page and 'id="execute-plan"' in page
    excluded = client.get(f"/maintenance/plans/{plan.pk}/?show=excluded").content.decode()
    assert "tagged keep=true" in excluded
    response = client.post(f"/maintenance/plans/{plan.pk}/execute", {})  # not confirmed
    assert response.status_code == 400
    plan.refresh_from_db()
    assert plan.state == PlanState.READY and not TaskRun.objects.exists()


def test_expired_plan_offers_no_execute_button(login) -> None:  # type: ignore[no-untyped-def]
    plan = _plan(planned_at=timezone.now() - timedelta(days=3))
    client = login("operator")
    page = client.get(f"/maintenance/plans/{plan.pk}/").content.decode()
    assert "too old to execute" in page and 'id="execute-plan"' not in page
    assert client.post(f"/maintenance/plans/{plan.pk}/execute", {"confirm": "on"}).status_code == 422


def test_execute_form_queues_the_execution_once(login) -> None:  # type: ignore[no-untyped-def]
    plan = _plan()
    client = login("operator")
    response = client.post(f"/maintenance/plans/{plan.pk}/execute", {"confirm": "on"})
    run = TaskRun.objects.get(kind=TaskKind.CLEANUP_EXECUTE)
    assert response.status_code == 302 and response["Location"] == f"/maintenance/tasks/{run.pk}/"
    assert client.post(f"/maintenance/plans/{plan.pk}/execute", {"confirm": "on"}).status_code == 409
    assert AuditEvent.objects.filter(action="cleanup.execute").count() == 1


def test_home_tiles(login) -> None:  # type: ignore[no-untyped-def]
    TaskRun.objects.create(
        kind=TaskKind.REAPER,
        started_by="system:schedule.reaper",
        state=TaskState.SUCCEEDED,
        finished_at=timezone.now(),
        counts={"stuck": 4, "reaped": 0},
        report={"dry_run": True},
    )
    page = login("lead_search").get("/").content.decode()
    assert "Stuck runs" in page and "Last cleanup" in page and "Maintenance tasks running" in page


def test_api_permissions_and_errors(login, client) -> None:  # type: ignore[no-untyped-def]
    member = login("member_search")
    assert member.post("/api/v1/maintenance/capacity-checks").status_code == 403
    assert member.get("/api/v1/maintenance/task-runs").status_code == 200
    operator = login("operator")
    assert operator.get("/api/v1/maintenance/cleanup-plans/999999").status_code == 404
    assert operator.get("/api/v1/maintenance/task-runs/999999").status_code == 404
    bad = operator.post("/api/v1/maintenance/cleanup-plans", {"scope": "galaxy"}, content_type="application/json")
    assert bad.status_code in (400, 422)
    neg = operator.post("/api/v1/maintenance/reaper", {"threshold_hours": -1}, content_type="application/json")
    assert neg.status_code in (400, 422)
    assert not TaskRun.objects.exists()


def test_api_plan_create_read_execute(login, mlflow) -> None:  # type: ignore[no-untyped-def]
    operator = login("operator")
    missing = operator.post(
        "/api/v1/maintenance/cleanup-plans",
        {"scope": "experiment", "scope_value": "/nope/x"},
        content_type="application/json",
    )
    assert missing.status_code == 404
    created = operator.post(
        "/api/v1/maintenance/cleanup-plans",
        {"scope": "experiment", "scope_value": "/search-team/query-ranking/bert-finetune", "older_than_days": 30},
        content_type="application/json",
    )
    assert created.status_code == 202, created.content
    body = created.json()
    assert body["state"] == "planning" and body["older_than_days"] == 30 and body["statuses"] == ["FAILED", "KILLED"]
    read = operator.get(f"/api/v1/maintenance/cleanup-plans/{body['id']}").json()
    assert read["plan_task_id"] == body["plan_task_id"]
    conflict = operator.post(
        f"/api/v1/maintenance/cleanup-plans/{body['id']}/execute", {"confirm": True}, content_type="application/json"
    )
    assert conflict.status_code == 409  # still planning
    runs = operator.get("/api/v1/maintenance/task-runs?kind=cleanup_plan").json()
    assert [r["id"] for r in runs] == [body["plan_task_id"]] and runs[0]["state"] == "queued"
