"""The broker (a private redis-server) killed before a task is started: the caller gets a clear 503, the
TaskRun is recorded as failed (with an audit event) instead of staying `queued` and blocking its kind for
hours, and the next start is not refused as "already queued"."""

from __future__ import annotations

import pytest

from maintenance.models import TaskKind, TaskRun, TaskState
from mlopsadmin.celery import app as current_app  # the app the senders use (mlopsadmin.task_queue)
from mlopsadmin.core.models import AuditEvent

from ..faults import private_redis


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_broker_down_when_a_task_is_started(login, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client = login("operator")
    with private_redis() as (url, process):
        process.kill()
        process.wait(10)
        monkeypatch.setattr(current_app.conf, "broker_url", url)
        monkeypatch.setattr(current_app.conf, "broker_write_url", url)  # what publishing uses
        monkeypatch.setattr(current_app, "_pool", None)
        monkeypatch.setattr(current_app.amqp, "_producer_pool", None)
        first = client.post("/api/v1/maintenance/capacity-checks", content_type="application/json")
        second = client.post("/api/v1/maintenance/capacity-checks", content_type="application/json")
    monkeypatch.setattr(current_app, "_pool", None)
    monkeypatch.setattr(current_app.amqp, "_producer_pool", None)
    for response in (first, second):
        assert response.status_code == 503, response.content
        assert "queue" in response.json()["detail"] and "not started" in response.json()["detail"]
    runs = TaskRun.objects.filter(kind=TaskKind.CAPACITY).order_by("id")
    assert [r.state for r in runs] == [TaskState.FAILED, TaskState.FAILED]
    for run in runs:
        events = AuditEvent.objects.filter(target_kind="task", target_id=str(run.pk)).order_by("id")
        assert [(e.action, e.outcome) for e in events] == [("capacity.check", "ok"), ("task.enqueue", "failed")]
