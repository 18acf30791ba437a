"""Issue 14, case 6 without a worker: how a lost worker is detected (heartbeat thread, fencing, the beat
entry), who may resume an interrupted cleanup and when, and what page and API say. The real-worker kill is
in test_worker_killed.py."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.checks import run_checks
from django.utils import timezone

from maintenance import task_execute, task_runs
from maintenance.cleanup.resume import cleanup_plan_resume
from maintenance.models import CleanupPlan, PlanItem, PlanState, TaskKind, TaskRun, TaskState
from mlopsadmin.core.errors import Conflict, InvalidInput
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.schedules import ENTRIES, beat_schedule


def _interrupted_plan(*, task_state: str = TaskState.INTERRUPTED, plan_state: str = PlanState.EXECUTING) -> CleanupPlan:
    old = timezone.now() - timedelta(days=2)
    task = TaskRun.objects.create(
        kind=TaskKind.CLEANUP_EXECUTE,
        started_by="operator",
        state=task_state,
        created_at=old,
        started_at=old,
        heartbeat_at=old,
        progress_done=1,
        progress_total=2,
        errors=["worker lost: no heartbeat since …"],
    )
    plan = CleanupPlan.objects.create(
        scope="all",
        older_than_days=90,
        statuses=["FAILED"],
        cutoff_ms=0,
        state=plan_state,
        created_by="operator",
        candidate_count=2,
        planned_at=old,
        execute_task=task,
        executed_by="operator",
    )
    task.parameters = {"plan_id": plan.pk, "purge": False}
    task.save()
    for letter in "ab":
        PlanItem.objects.create(plan=plan, run_id=letter * 32, experiment_id="1", status="FAILED", reason="old")
    return plan


@pytest.mark.django_db
def test_the_beat_sweeps_lost_workers_every_minute() -> None:
    entry = next(e for e in ENTRIES if e.key == "task_sweep")
    assert entry.task == "maintenance.tasks.sweep_lost_tasks_scheduled" and entry.cron == "* * * * *"
    assert beat_schedule()["task_sweep"]["task"] == entry.task  # on by default


@pytest.mark.django_db
def test_a_heartbeat_that_beats_too_rarely_is_refused_at_start_up(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MAINTENANCE_HEARTBEAT_SECONDS = 200
    settings.MAINTENANCE_HEARTBEAT_STALE_SECONDS = 300
    assert "mlopsadmin.E011" in {c.id for c in run_checks()}
    settings.MAINTENANCE_HEARTBEAT_SECONDS = 30
    assert "mlopsadmin.E011" not in {c.id for c in run_checks()}


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_beats_while_one_step_blocks(personas) -> None:  # type: ignore[no-untyped-def]
    created = TaskRun.objects.create(kind=TaskKind.CAPACITY, started_by="operator")
    run = task_runs.task_run_claim(task_run_id=created.pk)
    assert run is not None
    TaskRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    with task_execute.heartbeat(run, every=0.2):
        time.sleep(0.8)  # one long MLflow call, say
        beat = TaskRun.objects.get(pk=run.pk).heartbeat_at
    assert beat is not None and timezone.now() - beat < timedelta(seconds=2)
    assert task_runs.task_runs_sweep_stale() == 0


@pytest.mark.django_db
def test_a_worker_that_wakes_up_after_a_takeover_writes_nothing(personas) -> None:  # type: ignore[no-untyped-def]
    first = task_runs.task_run_claim(task_run_id=TaskRun.objects.create(kind=TaskKind.REAPER, started_by="x").pk)
    assert first is not None
    old = timezone.now() - timedelta(hours=1)
    TaskRun.objects.filter(pk=first.pk).update(heartbeat_at=old)
    assert task_runs.task_runs_sweep_stale() == 1
    second = task_runs.task_run_claim(task_run_id=first.pk)  # the redelivered message resumes it
    assert second is not None and second.attempts == first.attempts + 1
    with pytest.raises(task_runs.TaskLost):
        task_runs.task_run_progress(first, done=5)  # the first worker was only slow, not dead
    task_runs.task_run_finish(first, state=TaskState.FAILED, errors=["late"])
    assert TaskRun.objects.get(pk=first.pk).state == TaskState.RUNNING  # the second still holds it
    assert not task_runs.task_run_beat(first) and task_runs.task_run_beat(second)


@pytest.mark.django_db
def test_a_resumed_old_task_is_not_swept_as_never_picked_up(personas) -> None:  # type: ignore[no-untyped-def]
    plan = _interrupted_plan()
    run = cleanup_plan_resume(actor=personas["admin"], plan_id=plan.pk, confirm=True)
    assert run.state == TaskState.QUEUED and run.created_at < timezone.now() - timedelta(days=1)
    assert task_runs.task_runs_sweep_stale() == 0
    assert TaskRun.objects.get(pk=run.pk).state == TaskState.QUEUED
    assert "resumed by admin" in run.errors[-1]
    event = AuditEvent.objects.get(action="cleanup.resume")
    assert (event.actor_name, event.target_id) == ("admin", str(run.pk))


@pytest.mark.django_db
def test_only_an_interrupted_execution_can_be_resumed(personas) -> None:  # type: ignore[no-untyped-def]
    operator = personas["operator"]
    with pytest.raises(InvalidInput):
        cleanup_plan_resume(actor=operator, plan_id=_interrupted_plan().pk, confirm=False)
    live = _interrupted_plan(task_state=TaskState.RUNNING)
    TaskRun.objects.filter(pk=live.execute_task_id).update(heartbeat_at=timezone.now())  # a worker is on it
    with pytest.raises(Conflict, match="only an interrupted execution"):
        cleanup_plan_resume(actor=operator, plan_id=live.pk, confirm=True)
    done = _interrupted_plan(task_state=TaskState.SUCCEEDED, plan_state=PlanState.EXECUTED)
    with pytest.raises(Conflict):
        cleanup_plan_resume(actor=operator, plan_id=done.pk, confirm=True)
    assert not AuditEvent.objects.filter(action="cleanup.resume").exists()


@pytest.mark.django_db
def test_a_lost_worker_is_recognised_when_resuming(personas) -> None:  # type: ignore[no-untyped-def]
    """No need to wait for the beat: resuming sweeps first."""
    plan = _interrupted_plan(task_state=TaskState.RUNNING)  # heartbeat two days old
    run = cleanup_plan_resume(actor=personas["operator"], plan_id=plan.pk, confirm=True)
    assert run.state == TaskState.QUEUED
    assert AuditEvent.objects.filter(action="task.interrupt", target_id=str(run.pk)).count() == 1


@pytest.mark.django_db
def test_a_second_cleanup_cannot_resume_while_another_executes(personas) -> None:  # type: ignore[no-untyped-def]
    first, second = _interrupted_plan(), _interrupted_plan()
    cleanup_plan_resume(actor=personas["operator"], plan_id=first.pk, confirm=True)
    with pytest.raises(Conflict, match="queued or running"):
        cleanup_plan_resume(actor=personas["operator"], plan_id=second.pk, confirm=True)
    assert TaskRun.objects.get(pk=second.execute_task_id).state == TaskState.INTERRUPTED


@pytest.mark.django_db
def test_page_offers_resume_only_to_those_who_may(login) -> None:  # type: ignore[no-untyped-def]
    plan = _interrupted_plan()
    for persona in ("member_search", "auditor"):
        client = login(persona)
        page = client.get(f"/maintenance/plans/{plan.pk}/").content.decode()
        assert "Interrupted" in page and 'id="resume-plan"' not in page
        assert client.post(f"/maintenance/plans/{plan.pk}/resume", {"confirm": "on"}).status_code == 403
    client = login("operator")
    page = client.get(f"/maintenance/plans/{plan.pk}/").content.decode()
    assert 'id="resume-plan"' in page and 'id="execute-plan"' not in page
    assert client.post(f"/maintenance/plans/{plan.pk}/resume", {}).status_code == 400  # not confirmed
    assert TaskRun.objects.get(pk=plan.execute_task_id).state == TaskState.INTERRUPTED


@pytest.mark.django_db
def test_api_says_interrupted_and_resumes(login) -> None:  # type: ignore[no-untyped-def]
    plan = _interrupted_plan()
    url = f"/api/v1/maintenance/cleanup-plans/{plan.pk}"
    member = login("member_search")
    assert member.post(f"{url}/resume", {"confirm": True}, content_type="application/json").status_code == 403
    operator = login("operator")
    read = operator.get(url).json()
    assert (read["state"], read["resumable"]) == ("interrupted", True)
    refused = operator.post(f"{url}/execute", {"confirm": True}, content_type="application/json")
    assert refused.status_code == 409 and "resume it" in refused.json()["detail"]
    assert operator.post(f"{url}/resume", {}, content_type="application/json").status_code == 422
    resumed = operator.post(f"{url}/resume", {"confirm": True}, content_type="application/json")
    assert resumed.status_code == 202 and resumed.json()["state"] == "queued"
    assert operator.get(url).json()["resumable"] is False
    again = operator.post(f"{url}/resume", {"confirm": True}, content_type="application/json")
    assert again.status_code == 409
    assert (
        operator.post(
            "/api/v1/maintenance/cleanup-plans/999999/resume", {"confirm": True}, content_type="application/json"
        ).status_code
        == 404
    )
    schema = operator.get("/api/v1/openapi.json").json()
    documented = schema["paths"]["/api/v1/maintenance/cleanup-plans/{plan_id}/resume"]["post"]
    assert "recovered on resume" in documented["description"] and {"202", "409", "422"} <= set(documented["responses"])
