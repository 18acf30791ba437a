"""Task-run bookkeeping without a worker: one active task per kind, atomic claims, lost workers
marked interrupted, stale plans refused, schedules listed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from maintenance import selectors, task_runs
from maintenance.capacity.check import _capacity_alert
from maintenance.capacity.thresholds import levels
from maintenance.cleanup.execute import cleanup_plan_execute
from maintenance.cleanup.plan import cleanup_plan_create
from maintenance.models import CleanupPlan, PlanState, TaskKind, TaskRun, TaskState
from mlopsadmin.core.errors import Conflict, InvalidInput, RuleViolation
from mlopsadmin.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def _task(kind: str = TaskKind.REAPER, **fields: object) -> TaskRun:
    fields.setdefault("started_by", "operator")
    return TaskRun.objects.create(kind=kind, **fields)


def test_second_active_task_of_a_kind_is_refused(personas) -> None:  # type: ignore[no-untyped-def]
    _task(state=TaskState.RUNNING, heartbeat_at=timezone.now())
    with pytest.raises(Conflict):
        task_runs.task_run_create(kind=TaskKind.REAPER, parameters={}, actor=personas["operator"])
    other = task_runs.task_run_create(kind=TaskKind.CAPACITY, parameters={}, actor=personas["operator"])
    assert other.state == TaskState.QUEUED  # another kind may run meanwhile


def test_claim_is_taken_once(personas) -> None:  # type: ignore[no-untyped-def]
    run = _task()
    first = task_runs.task_run_claim(task_run_id=run.pk, celery_task_id="a")
    second = task_runs.task_run_claim(task_run_id=run.pk, celery_task_id="b")
    assert first is not None and first.state == TaskState.RUNNING
    assert second is None  # a live worker holds it
    run.refresh_from_db()
    assert run.attempts == 1 and run.celery_task_id == "a"


def test_lost_worker_is_marked_interrupted_and_a_redelivery_resumes(personas) -> None:  # type: ignore[no-untyped-def]
    old = timezone.now() - timedelta(hours=1)
    run = _task(state=TaskState.RUNNING, started_at=old, heartbeat_at=old)
    assert task_runs.task_runs_sweep_stale() == 1
    run.refresh_from_db()
    assert run.state == TaskState.INTERRUPTED and "no heartbeat" in run.errors[-1]
    assert AuditEvent.objects.filter(action="task.interrupt", target_id=str(run.pk)).count() == 1
    # acks_late: the message comes back; the same record is claimed again and says it resumed
    resumed = task_runs.task_run_claim(task_run_id=run.pk)
    assert resumed is not None and resumed.state == TaskState.RUNNING and "resumed" in resumed.errors[-1]


def test_progress_on_a_lost_record_stops_the_worker(personas) -> None:  # type: ignore[no-untyped-def]
    run = task_runs.task_run_claim(task_run_id=_task().pk)
    TaskRun.objects.filter(pk=run.pk).update(state=TaskState.INTERRUPTED)
    with pytest.raises(task_runs.TaskLost):
        task_runs.task_run_progress(run, done=1)


def test_plan_older_than_the_limit_must_be_replanned(personas, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MAINTENANCE_PLAN_MAX_AGE_HOURS = 2
    plan = CleanupPlan.objects.create(
        scope="all",
        older_than_days=90,
        statuses=["FAILED"],
        cutoff_ms=0,
        state=PlanState.READY,
        created_by="operator",
        candidate_count=3,
        planned_at=timezone.now() - timedelta(hours=3),
    )
    with pytest.raises(RuleViolation, match="new plan"):
        cleanup_plan_execute(actor=personas["operator"], plan_id=plan.pk, confirm=True)
    with pytest.raises(InvalidInput):
        cleanup_plan_execute(actor=personas["operator"], plan_id=plan.pk, confirm=False)
    plan.refresh_from_db()
    assert plan.state == PlanState.READY and not TaskRun.objects.exists()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scope": "galaxy"},
        {"scope": "experiment", "scope_value": ""},
        {"scope": "all", "older_than_days": -1},
        {"scope": "all", "statuses": ["RUNNING"]},
        {"scope": "team", "scope_value": "no-such-team"},
    ],
)
def test_bad_plan_input_changes_nothing(personas, kwargs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput):
        cleanup_plan_create(actor=personas["operator"], **kwargs)
    assert not CleanupPlan.objects.exists() and not TaskRun.objects.exists()


def test_schedules_show_last_and_next_run(personas, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SCHEDULE_CAPACITY", "off")
    last = _task(state=TaskState.SUCCEEDED, started_by="system:schedule.reaper", finished_at=timezone.now())
    rows = {row.key: row for row in selectors.schedules_overview()}
    assert rows["reaper"].last_run == last and rows["reaper"].cron == "5 * * * *"
    assert rows["reaper"].next_run is not None and rows["reaper"].next_run.minute == 5
    assert rows["reaper"].next_run > timezone.now()
    assert rows["capacity"].next_run is None  # switched off by the environment


def test_selectors_for_checklists(personas) -> None:  # type: ignore[no-untyped-def]
    from maintenance.models import CapacitySample

    assert selectors.last_task_run(kind=TaskKind.REAPER) is None
    assert selectors.latest_capacity_totals() is None
    done = _task(state=TaskState.SUCCEEDED, finished_at=timezone.now(), counts={"reaped": 2})
    _task(state=TaskState.FAILED, finished_at=timezone.now())
    assert selectors.last_task_run(kind=TaskKind.REAPER) == done
    CapacitySample.objects.create(
        scope="total", key="all", size_bytes=100, detail={"database_bytes": 50, "warning": True, "critical": False}
    )
    totals = selectors.latest_capacity_totals()
    assert totals is not None
    assert (totals["artifact_bytes"], totals["database_bytes"], totals["warning"], totals["critical"]) == (
        100,
        50,
        True,
        False,
    )


def test_mlflow_artifacts_locations_resolve_only_with_a_destination(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from maintenance import storage

    settings.MLFLOW_ARTIFACTS_DESTINATION = ""
    assert storage.resolve("mlflow-artifacts:/5").kind == "unknown"
    settings.MLFLOW_ARTIFACTS_DESTINATION = str(tmp_path)
    resolved = storage.resolve("mlflow-artifacts:/5")
    assert resolved.kind == "local" and resolved.uri == f"{tmp_path}/5"
    settings.MLFLOW_ARTIFACTS_DESTINATION = "s3://bucket/root"
    assert storage.resolve("mlflow-artifacts://host:5000/5").uri == "s3://bucket/root/5"
    assert storage.resolve("file:///srv/mlruns/3").uri == "/srv/mlruns/3"


def test_capacity_thresholds(settings) -> None:  # type: ignore[no-untyped-def]

    settings.MAINTENANCE_ARTIFACT_WARNING_BYTES = 100
    settings.MAINTENANCE_ARTIFACT_CRITICAL_BYTES = 1000
    settings.MAINTENANCE_DATABASE_WARNING_BYTES = 0
    settings.MAINTENANCE_DATABASE_CRITICAL_BYTES = 0
    assert levels(50, 10**12)["level"] == "ok"
    assert levels(150, None)["level"] == "warning"
    assert levels(5000, None)["critical"] is True


def test_capacity_alert_is_audited_and_notified(
    personas,
    settings,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
    mailoutbox,
) -> None:
    from mlopsadmin.celery import app

    settings.NOTIFY_EMAILS = ["ops@example.com"]
    settings.NOTIFY_WEBHOOK_URL = ""
    settings.MAINTENANCE_ARTIFACT_WARNING_BYTES = 1000
    settings.MAINTENANCE_ARTIFACT_CRITICAL_BYTES = 10**9
    run = _task(kind=TaskKind.CAPACITY, state=TaskState.RUNNING, started_by="system:schedule.capacity")
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _capacity_alert(run, levels(5000, None), 5000, None)
    finally:
        app.conf.task_always_eager = eager
    assert sorted(m.to[0] for m in mailoutbox) == ["operator@example.com", "ops@example.com"]  # operators too
    assert all(m.subject.startswith("Capacity warning: ") for m in mailoutbox)
    event = AuditEvent.objects.get(action="capacity.alert")
    assert event.actor_name == "system:schedule.capacity" and "artifact store" in event.reason
