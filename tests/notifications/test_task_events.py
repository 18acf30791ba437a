"""Every way a maintenance task ends badly tells the operators ("task failed"): a worker lost mid-task (no
heartbeat: interrupted), a task no worker ever picked up, a task the broker refused to queue; a resumed
task that then fails tells them again. Each once, whoever runs the sweep how often."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from maintenance import task_runs
from maintenance.models import TaskKind, TaskRun, TaskState
from mlopsadmin.celery import app as current_app
from notifications.models import Notification

from ..faults import private_redis

OPS = "ops-list@example.com"


def _told(address: str) -> list[str]:
    return list(Notification.objects.filter(event="task.failed", recipient=address).values_list("subject", flat=True))


def test_a_lost_worker_and_a_task_never_picked_up_are_failed_tasks(personas, settings) -> None:  # type: ignore[no-untyped-def]
    settings.NOTIFY_EMAILS, settings.NOTIFY_WEBHOOK_URL = [OPS], ""
    old = timezone.now() - timedelta(days=1)
    lost = TaskRun.objects.create(
        kind=TaskKind.REAPER, state=TaskState.RUNNING, started_at=old, heartbeat_at=old, attempts=1, started_by="x"
    )
    never = TaskRun.objects.create(kind=TaskKind.CAPACITY, state=TaskState.QUEUED, started_by="system:schedule.cap")
    TaskRun.objects.filter(pk=never.pk).update(created_at=old)
    assert task_runs.task_runs_sweep_stale() == 2
    task_runs.task_runs_sweep_stale()  # a later sweep finds nothing new: nobody is told twice
    assert sorted(_told(OPS)) == [
        f"Task interrupted: Capacity check #{never.pk}",
        f"Task interrupted: Stuck-run reaper #{lost.pk}",
    ]
    lines = Notification.objects.get(recipient=OPS, subject__contains=f"#{never.pk}").lines
    assert "never picked up by a worker" in " ".join(lines)
    assert Notification.objects.filter(recipient="operator@example.com", event="task.failed").count() == 2

    resumed = task_runs.task_run_claim(task_run_id=lost.pk)  # the message came back: it resumes, then fails
    assert resumed is not None
    task_runs.task_run_finish(resumed, state=TaskState.FAILED, errors=["boom"])
    assert f"Task failed: Stuck-run reaper #{lost.pk}" in _told(OPS)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_task_the_broker_refused_is_a_failed_task_for_the_other_operators(login, monkeypatch, settings) -> None:  # type: ignore[no-untyped-def]
    settings.NOTIFY_EMAILS, settings.NOTIFY_WEBHOOK_URL = [OPS], ""
    client = login("operator")
    with private_redis() as (url, process):
        process.kill()
        process.wait(10)
        monkeypatch.setattr(current_app.conf, "broker_url", url)
        monkeypatch.setattr(current_app.conf, "broker_write_url", url)
        monkeypatch.setattr(current_app, "_pool", None)
        monkeypatch.setattr(current_app.amqp, "_producer_pool", None)
        response = client.post("/api/v1/maintenance/capacity-checks", content_type="application/json")
    monkeypatch.setattr(current_app, "_pool", None)
    monkeypatch.setattr(current_app.amqp, "_producer_pool", None)
    assert response.status_code == 503
    run = TaskRun.objects.get(kind=TaskKind.CAPACITY)
    assert _told(OPS) == [f"Task failed: Capacity check #{run.pk}"]  # queued by the sweep once the broker is back
    assert _told("operator@example.com") == []  # the operator who started it got the 503 then and there
