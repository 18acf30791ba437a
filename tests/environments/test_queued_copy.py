"""Issue 22: a copy to the next environment runs in a real Celery worker, not in the web request (a long
artifact copy held a gunicorn worker until its timeout killed it). The page queues it and follows its task
(htmx polling) to the result; the API answers 202 with the task and its status URL; a broker that is down
answers 503 with nothing started; a worker killed mid-copy is found by the heartbeat sweep and what it left
in the target is offered for clean-up like a killed request's."""

from __future__ import annotations

import html
import os
import re
import signal
import time
import uuid
from typing import Any

import pytest

from maintenance.models import TaskKind, TaskRun, TaskState
from mlopsadmin.core.models import AuditEvent
from registry_ui.environments import services
from tests.faults import FaultProxy, private_broker
from tests.servers import spawn_worker

from .helpers import configure, make_version, models_named, versions_on

pytestmark = pytest.mark.django_db(transaction=True)


def _text(response: Any) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def _servers(source: str, target: str) -> None:
    configure(
        {
            "dev": {"kind": "server", "tracking_uri": source, "next": "prod"},
            "prod": {"kind": "server", "tracking_uri": target},
        }
    )


def _final(task_run_id: int, limit: float = 120) -> TaskRun:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        run = TaskRun.objects.get(pk=task_run_id)
        if not run.is_active:
            return run
        time.sleep(0.5)
    raise AssertionError(f"task {task_run_id} still {TaskRun.objects.get(pk=task_run_id).state}")


def test_the_page_and_the_api_queue_the_copy_for_a_worker(  # type: ignore[no-untyped-def]
    celery_worker, dev_mlflow, mlflow, login, settings
) -> None:
    settings.ENVIRONMENT_COPY_QUEUED = True
    base = f"search-queued-{uuid.uuid4().hex[:8]}"
    make_version(mlflow, base, score=0.5)
    make_version(mlflow, base, score=0.6)
    _servers(mlflow, dev_mlflow.url)
    lead = login("lead_search")
    confirm = f"/registry/models/{base}/versions/1/promote"

    queued = lead.post(confirm, {"target": "prod"})
    assert queued.status_code == 302, _text(queued)
    run = TaskRun.objects.get(kind=TaskKind.ENVIRONMENT_COPY, parameters__model=base)
    assert queued["Location"] == f"{confirm}?task={run.pk}"
    following = lead.get(queued["Location"]).content.decode()
    assert f"task #{run.pk}" in html.unescape(following)
    assert f'id="task-{run.pk}"' in following
    assert _final(run.pk).state == TaskState.SUCCEEDED, TaskRun.objects.get(pk=run.pk).errors
    done = _text(lead.get(queued["Location"]))
    assert f"Copied {base} v1 from dev to prod: {base} v1" in done, done
    started = AuditEvent.objects.get(action="environment.copy", after__model=base)
    assert started.after["task_run"] == run.pk  # the copy ran in the worker's task
    outcome = AuditEvent.objects.filter(action="environment.promote", after__copy_id=started.after["copy_id"])
    assert [e.outcome for e in outcome] == ["ok"]

    api = lead.post(
        f"/api/v1/environments/dev/models/{base}/promote", data={"version": "2"}, content_type="application/json"
    )
    assert api.status_code == 202, api.content
    body = api.json()
    assert body["target_environment"] == "prod" and body["state"] == "queued"
    _final(body["task_run_id"])
    status = lead.get(body["status_url"]).json()
    assert status["state"] == "succeeded" and status["report"]["target_version"] == "2", status
    assert sorted(v["version"] for v in versions_on(dev_mlflow.url, base)) == ["1", "2"]

    refused = lead.post(
        f"/api/v1/environments/dev/models/{base}/promote", data={"version": "9"}, content_type="application/json"
    )
    assert refused.status_code == 422 and "does not exist" in refused.json()["detail"]  # answered at once


@pytest.mark.redis
def test_a_broker_that_is_down_starts_no_copy(dev_mlflow, mlflow, login, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings.ENVIRONMENT_COPY_QUEUED = True
    base = f"search-nobroker-{uuid.uuid4().hex[:8]}"
    make_version(mlflow, base, score=0.5)
    _servers(mlflow, dev_mlflow.url)
    lead = login("lead_search")
    with private_broker(monkeypatch) as (_, broker):
        broker.kill()
        broker.wait(10)
        api = lead.post(
            f"/api/v1/environments/dev/models/{base}/promote", data={"version": "1"}, content_type="application/json"
        )
        page = lead.post(f"/registry/models/{base}/versions/1/promote", {"target": "prod"})
    assert api.status_code == 503 and "not started" in api.json()["detail"], api.content
    assert page.status_code == 503 and "not started" in _text(page)
    runs = TaskRun.objects.filter(kind=TaskKind.ENVIRONMENT_COPY, parameters__model=base)
    assert {r.state for r in runs} == {TaskState.FAILED}
    assert not AuditEvent.objects.filter(action="environment.copy", after__model=base).exists()
    assert models_named(dev_mlflow.url, base) == []


def test_a_worker_killed_mid_copy_is_swept_and_what_it_left_offered(  # type: ignore[no-untyped-def]
    extra_worker, dev_mlflow, mlflow, login, settings
) -> None:
    settings.ENVIRONMENT_COPY_QUEUED = True
    settings.PROMOTION_LOCK_TTL_SECONDS, settings.WEB_TIMEOUT_SECONDS = 2, 1
    settings.MAINTENANCE_HEARTBEAT_STALE_SECONDS = 3
    base = f"search-workerkill-{uuid.uuid4().hex[:8]}"
    make_version(mlflow, base, score=0.5)
    lead = login("lead_search")
    confirm = f"/registry/models/{base}/versions/1/promote"
    with FaultProxy(dev_mlflow.url) as prod:
        # prod registers the version, and its answer never comes: the worker waits in the copy
        prod.write_path, prod.freeze_after_writes = "/model-versions/create", 1
        _servers(mlflow, prod.url)
        worker = extra_worker.start(PROMOTION_LOCK_TTL_SECONDS="2", MAINTENANCE_HEARTBEAT_SECONDS="0.5")
        queued = lead.post(confirm, {"target": "prod"})
        assert queued.status_code == 302, _text(queued)
        run = TaskRun.objects.get(kind=TaskKind.ENVIRONMENT_COPY, parameters__model=base)
        deadline = time.monotonic() + 90
        while not prod.frozen and time.monotonic() < deadline:
            time.sleep(0.3)
        assert prod.frozen, "the copy never reached the registration"
        assert "Clean up prod" not in _text(lead.get(confirm))  # running: not offered
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(10)
        prod.thaw()
        time.sleep(5)  # past the heartbeat's staleness and the grace period
        page = _text(lead.get(f"{confirm}?task={run.pk}"))
    assert TaskRun.objects.get(pk=run.pk).state == TaskState.INTERRUPTED
    assert "A copy of v1 that failed earlier left this in prod" in page and "Clean up prod" in page, page
    _servers(mlflow, dev_mlflow.url)
    assert versions_on(dev_mlflow.url, base) != []  # the version the killed copy registered
    cleaned = lead.post(f"{confirm}/cleanup", {"target": "prod"})
    assert cleaned.status_code == 302, _text(cleaned)
    assert versions_on(dev_mlflow.url, base) == [] and models_named(dev_mlflow.url, base) == []


@pytest.mark.browser
def test_the_confirm_page_follows_the_queued_copy_in_the_browser(  # type: ignore[no-untyped-def]
    celery_worker, dev_mlflow, mlflow, browser_login, live_server, settings
) -> None:
    settings.ENVIRONMENT_COPY_QUEUED = True
    base = f"search-uiq-{uuid.uuid4().hex[:8]}"
    make_version(mlflow, base, score=0.7)
    _servers(mlflow, dev_mlflow.url)
    page = browser_login("lead_search")
    page.goto(f"{live_server.url}/registry/models/{base}/versions/1/promote")
    page.click("button[data-confirm=env-promote]")
    page.wait_for_selector(".env-task .task-progress")  # the task's card, polled by htmx
    result = page.wait_for_selector(".env-task-result.msg-success", timeout=90_000)  # then the result, in place
    assert f"{base} v1 on {dev_mlflow.url}" in result.text_content()
    assert page.text_content(".env-task .task-state").strip() == "succeeded"


def test_a_queued_copy_refused_by_the_gate_is_answered_at_once(mlflow, login, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ENVIRONMENT_COPY_QUEUED = True
    configure(
        {
            "dev": {"kind": "prefix", "prefix": "dev.", "next": "prod"},
            "prod": {"kind": "prefix", "prefix": "prod.", "require_approval": True},
        }
    )
    base = f"search-qgate-{uuid.uuid4().hex[:8]}"
    make_version(mlflow, f"dev.{base}", score=0.2)
    refused = login("lead_search").post(
        f"/api/v1/environments/dev/models/{base}/promote", data={"version": "1"}, content_type="application/json"
    )
    assert refused.status_code == 422, refused.content
    assert refused.json()["reasons"] == ["prod requires an approval of v1 for prod (none approved)"]
    assert not TaskRun.objects.filter(kind=TaskKind.ENVIRONMENT_COPY, parameters__model=base).exists()
    event = AuditEvent.objects.get(action="environment.promote", target_id=f"{base}/dev→prod")
    assert event.outcome == "failed" and event.reason == "refused by the gate of prod"


def test_a_queued_copy_of_a_version_already_there_or_on_its_way_is_refused_at_once(  # type: ignore[no-untyped-def]
    mlflow, login, personas, settings, monkeypatch
) -> None:
    """A CI job retried (or a double click) is answered 409 at once, naming the copy in the target or the
    task already copying it, and queues nothing: it got 202 and a task that failed later, so a pipeline
    that only polls its own task failed although the version was (being) copied."""
    settings.ENVIRONMENT_COPY_QUEUED = True
    configure(
        {
            "dev": {"kind": "prefix", "prefix": "dev.", "next": "prod"},
            "prod": {"kind": "prefix", "prefix": "prod."},
        }
    )
    base = f"search-qtwice-{uuid.uuid4().hex[:8]}"
    make_version(mlflow, f"dev.{base}", score=0.2)
    make_version(mlflow, f"dev.{base}", score=0.3)
    lead = login("lead_search")
    url = f"/api/v1/environments/dev/models/{base}/promote"
    with private_broker(monkeypatch):  # no worker takes from it: the first copy stays queued
        first = lead.post(url, data={"version": "2"}, content_type="application/json")
        assert first.status_code == 202, first.content
        again = lead.post(url, data={"version": "02"}, content_type="application/json")
        other = lead.post(url, data={"version": "1"}, content_type="application/json")
    assert again.status_code == 409, again.content
    task = first.json()["task_run_id"]
    assert f"task #{task}" in again.json()["detail"] and first.json()["status_url"] in again.json()["detail"]
    assert other.status_code == 202, other.content  # another version of the model is not held up
    assert TaskRun.objects.filter(kind=TaskKind.ENVIRONMENT_COPY, parameters__model=base).count() == 2

    third = make_version(mlflow, f"dev.{base}", score=0.4)
    copied = services.promote_to_next(actor=personas["lead_search"], source_env="dev", model=base, version=third)
    there = lead.post(url, data={"version": third}, content_type="application/json")
    assert there.status_code == 409, there.content
    assert f"already in prod as prod.{base} v{copied.target_version}" in there.json()["detail"]
    assert TaskRun.objects.filter(kind=TaskKind.ENVIRONMENT_COPY, parameters__model=base).count() == 2


def test_two_versions_of_one_model_copied_by_two_workers_at_once_both_arrive(  # type: ignore[no-untyped-def]
    extra_worker, dev_mlflow, mlflow, login, settings
) -> None:
    """A CI pipeline promotes v1 and v2 one after the other and two workers take them at once: the second
    waits for the first copy's lock on the target model instead of failing with "another copy is under
    way" (its task failed although nothing was wrong: the refusal is for a double click, not a queue)."""
    settings.ENVIRONMENT_COPY_QUEUED = True
    base = f"search-twoworkers-{uuid.uuid4().hex[:8]}"
    make_version(mlflow, base, score=0.5)
    make_version(mlflow, base, score=0.6)
    lead = login("lead_search")
    with FaultProxy(dev_mlflow.url) as prod:
        prod.write_path, prod.write_delay = "/model-versions/create", 4.0  # each registration takes 4 s
        _servers(mlflow, prod.url)
        first = extra_worker.start()
        log = first.log_path.with_name(first.queue_name + "-second.log")
        env = {**extra_worker.session.env, "CELERY_TASK_DEFAULT_QUEUE": first.queue_name}
        extra_worker.started.append(type(first)(spawn_worker(env, first.queue_name, log), first.queue_name, log))
        url = f"/api/v1/environments/dev/models/{base}/promote"
        runs = [lead.post(url, data={"version": v}, content_type="application/json") for v in ("1", "2")]
        assert [r.status_code for r in runs] == [202, 202], [r.content for r in runs]
        final = [_final(r.json()["task_run_id"]) for r in runs]
        assert prod.max_in_flight == 1  # the registrations did not overlap: one copy at a time into the model
    assert [r.state for r in final] == [TaskState.SUCCEEDED] * 2, [r.errors for r in final]
    assert sorted(v["version"] for v in versions_on(dev_mlflow.url, base)) == ["1", "2"]
