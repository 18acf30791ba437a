"""The broker (a private redis-server) killed or frozen (SIGSTOP) when a task is started: the caller gets a
clear 503 within seconds, the TaskRun is recorded as failed (with an audit event) instead of staying `queued`
and blocking its kind for hours, and the next start is not refused as "already queued". The same for the
alias-reconcile API (a promotion under a frozen broker: tests/promotion/test_truth.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from maintenance.models import TaskKind, TaskRun, TaskState
from mlopsadmin.core.models import AuditEvent

from ..faults import frozen, private_broker


@pytest.fixture
def own_broker(monkeypatch) -> Iterator[tuple[str, object]]:  # type: ignore[no-untyped-def]
    with private_broker(monkeypatch) as started:
        yield started


def assert_not_started(responses: list[object]) -> None:
    for response in responses:
        assert response.status_code == 503, response.content  # type: ignore[attr-defined]
        detail = response.json()["detail"]  # type: ignore[attr-defined]
        assert "queue" in detail and "not started" in detail
    runs = TaskRun.objects.filter(kind=TaskKind.CAPACITY).order_by("id")
    assert [r.state for r in runs] == [TaskState.FAILED] * len(responses)
    for run in runs:
        events = AuditEvent.objects.filter(target_kind="task", target_id=str(run.pk)).order_by("id")
        assert [(e.action, e.outcome) for e in events] == [("capacity.check", "ok"), ("task.enqueue", "failed")]


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_broker_down_when_a_task_is_started(login, own_broker) -> None:  # type: ignore[no-untyped-def]
    client = login("operator")
    own_broker[1].kill()
    own_broker[1].wait(10)
    first = client.post("/api/v1/maintenance/capacity-checks", content_type="application/json")
    second = client.post("/api/v1/maintenance/capacity-checks", content_type="application/json")
    assert_not_started([first, second])


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_a_frozen_broker_fails_a_task_start_within_seconds(login, own_broker) -> None:  # type: ignore[no-untyped-def]
    """SIGSTOP: the broker accepts the connection and never answers. Before: the request waited forever
    (gunicorn killed the worker at 60 s: HTML 500, a `queued` record blocking its kind)."""
    client = login("operator")
    with frozen(own_broker[1]):
        started = time.monotonic()
        first = client.post("/api/v1/maintenance/capacity-checks", content_type="application/json")
        took = time.monotonic() - started
        second = client.post("/api/v1/maintenance/capacity-checks", content_type="application/json")
        took_second = time.monotonic() - started - took
    assert took < 20, took  # two attempts of the 5 s broker socket timeout, well under the web timeout
    assert took_second < 2, took_second  # the broker failed moments ago: not waited on again
    assert_not_started([first, second])


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
@pytest.mark.parametrize("fault", ["killed", "frozen"])
def test_alias_reconcile_api_says_when_nothing_was_queued(login, own_broker, fault) -> None:  # type: ignore[no-untyped-def]
    """Before: the message was sent with nothing to catch a failure: 500 (killed) or a hung worker (frozen)."""
    client = login("operator")
    if fault == "killed":
        own_broker[1].kill()
        own_broker[1].wait(10)
        response = client.post("/api/v1/registry/alias-reconcile", data={}, content_type="application/json")
    else:
        with frozen(own_broker[1]):
            response = client.post("/api/v1/registry/alias-reconcile", data={}, content_type="application/json")
    assert response.status_code == 503, response.content
    assert "not queued" in response.json()["detail"]
