"""Issue 14, case 6: a real Celery worker SIGKILLed in the middle of a cleanup execute.

MLflow is reached through a fault proxy that lets the n-th run deletion reach MLflow (committed) and then
holds its answer: the worker is killed exactly between MLflow's delete and the audit write. Then: the lost
worker is detected by the periodic sweep within the configured staleness (its heartbeat stops with the
process, while a live worker blocked in a slow call keeps beating), the plan is resumed from its page and
from the API, and in the end MLflow's deleted runs equal the audit log's `run.delete` events (one each, none
missing, none doubled, the claimed-but-unrecorded ones recovered and attributed to the execute's actor),
nothing outside the plan is touched, and no answer is a 5xx."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

from maintenance.cleanup.execute import cleanup_plan_execute
from maintenance.cleanup.plan import cleanup_plan_create
from maintenance.models import CleanupPlan, TaskRun, TaskState
from maintenance.reaper import REAPED_TAG, reaper_start
from maintenance.tasks import sweep_lost_tasks_scheduled, task_run_execute
from mlopsadmin.core.models import ApiToken, AuditEvent, hash_token
from mlopsadmin.lib import mlflow_client as mlf
from tests.faults import FaultProxy
from tests.maintenance.conftest import make_run, wait_task

pytestmark = pytest.mark.slow

STALE = 4  # seconds without a heartbeat before the sweep calls a task lost (this test's setting)
BULK = {
    "MAINTENANCE_WRITE_STORE": False,  # writes through the tracking API, where the proxy holds them
    "MAINTENANCE_BULK_CHUNK": 2,  # chunks of two runs, one write at a time: the kill lands mid-chunk
    "MAINTENANCE_WRITE_WORKERS": 1,
}
WORKER_ENV = {
    "MAINTENANCE_HEARTBEAT_SECONDS": "1",  # the running task beats every second
    "MLFLOW_REQUEST_TIMEOUT": "60",  # a held answer is waited for until the kill
    **{key: str(value) for key, value in BULK.items()},
}


def _wait(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _deleted(run_ids: set[str]) -> set[str]:
    return {r for r in run_ids if mlf.get_run(r).lifecycle_stage == "deleted"}


def _recorded(run_ids: set[str]) -> list[str]:
    return list(
        AuditEvent.objects.filter(action="run.delete", target_id__in=run_ids).values_list("target_id", flat=True)
    )


def _kill_mid_write(worker: Any, proxy: FaultProxy, task_id: int, landed: Callable[[], bool]) -> float:
    """Wait until the held write is committed in MLflow (`landed`) and its answer is held, show that the
    blocked-but-alive worker is not swept, then SIGKILL it. Returns the monotonic time of the kill."""
    _wait(lambda: proxy.frozen, "the held write")
    _wait(landed, "the write to land in MLflow")
    time.sleep(STALE + 1)  # alive, blocked in one MLflow call longer than the staleness: still beating
    assert sweep_lost_tasks_scheduled() == 0
    assert TaskRun.objects.get(pk=task_id).state == TaskState.RUNNING
    os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait(10)
    return time.monotonic()


def _kill_mid_delete(worker: Any, proxy: FaultProxy, execute_id: int, run_ids: set[str], deleted: int) -> float:
    return _kill_mid_write(worker, proxy, execute_id, lambda: len(_deleted(run_ids)) == deleted)


def _detected_after(execute_id: int, killed_at: float) -> float:
    """Run the beat's sweep (what the every-minute schedule entry runs) until the task is interrupted."""
    while TaskRun.objects.get(pk=execute_id).state != TaskState.INTERRUPTED:
        assert time.monotonic() - killed_at < STALE + 10, "the lost worker was not detected"
        sweep_lost_tasks_scheduled()
        time.sleep(0.2)
    return time.monotonic() - killed_at


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_cleanup_is_detected_resumed_and_recorded(  # type: ignore[no-untyped-def]
    celery_worker, extra_worker, personas, make_experiment, client, settings, mlflow
) -> None:
    settings.MAINTENANCE_HEARTBEAT_STALE_SECONDS = STALE
    experiment_id, name = make_experiment("killed")
    runs = {make_run(experiment_id, status="FAILED", name=f"old-{i}") for i in range(8)}
    kept = make_run(experiment_id, status="FAILED", tags={"keep": "true"}, name="kept")
    recent = make_run(experiment_id, status="FAILED", age_days=1, name="recent")
    plan = cleanup_plan_create(actor=personas["operator"], scope="experiment", scope_value=name)
    assert wait_task(plan.plan_task_id).state == TaskState.SUCCEEDED  # planned by the session worker
    answers: list[Any] = []

    def call(response: Any) -> Any:
        answers.append(response)
        return response

    operator_api = {"HTTP_AUTHORIZATION": f"Bearer {_token(personas['operator'])}"}
    api = f"/api/v1/maintenance/cleanup-plans/{plan.pk}"

    # Leg 1: the operator executes; the worker is killed after MLflow deleted the 3rd run, before its record.
    with FaultProxy(mlflow) as proxy:
        proxy.write_path, proxy.write_delay, proxy.freeze_after_writes = "/runs/delete", 0.2, 3
        worker = extra_worker.start(MLFLOW_TRACKING_URI=proxy.url, **WORKER_ENV)
        body = {"confirm": True}
        started = call(client.post(f"{api}/execute", body, content_type="application/json", **operator_api))
        assert started.status_code == 202, started.content
        execute_id = started.json()["id"]
        killed_at = _kill_mid_delete(worker, proxy, execute_id, runs, deleted=3)
    detected = _detected_after(execute_id, killed_at)
    assert detected <= STALE + 3, detected  # within the configured staleness (+1 s beat, + the sweep's poll)
    interrupt = AuditEvent.objects.get(action="task.interrupt", target_id=str(execute_id))
    assert "no heartbeat" in interrupt.reason
    assert len(_recorded(runs)) == 2  # the 3rd deletion is claimed but not recorded yet

    read = call(client.get(api, **operator_api)).json()
    assert (read["state"], read["resumable"]) == ("interrupted", True)
    again = call(client.post(f"{api}/execute", body, content_type="application/json", **operator_api))
    assert again.status_code == 409 and "resume" in again.json()["detail"]
    client.force_login(personas["auditor"])
    assert 'id="resume-plan"' not in call(client.get(f"/maintenance/plans/{plan.pk}/")).content.decode()
    client.force_login(personas["admin"])
    page = call(client.get(f"/maintenance/plans/{plan.pk}/")).content.decode()
    assert 'id="resume-plan"' in page and "Interrupted" in page

    # Leg 2: the admin resumes from the page; the new worker is killed after one more deletion.
    with FaultProxy(mlflow) as proxy:
        proxy.write_path, proxy.freeze_after_writes = "/runs/delete", 2
        worker = extra_worker.start(MLFLOW_TRACKING_URI=proxy.url, **WORKER_ENV)
        resumed = call(client.post(f"/maintenance/plans/{plan.pk}/resume", {"confirm": "on"}))
        assert resumed.status_code == 302 and resumed["Location"] == f"/maintenance/tasks/{execute_id}/"
        killed_at = _kill_mid_delete(worker, proxy, execute_id, runs, deleted=5)
    assert _detected_after(execute_id, killed_at) <= STALE + 3
    assert len(_recorded(runs)) == 4  # the 3rd recovered, the 4th deleted, the 5th claimed but unrecorded

    # Leg 3: the operator resumes through the API; the session worker (MLflow answering) finishes.
    extra_worker.use_session_worker()
    last = call(client.post(f"{api}/resume", body, content_type="application/json", **operator_api))
    assert last.status_code == 202, last.content
    assert wait_task(execute_id).state == TaskState.SUCCEEDED

    # MLflow's final state equals the audit log's
    assert _deleted(runs) == runs and sorted(_recorded(runs)) == sorted(runs)  # one each, none missing/doubled
    assert mlf.get_run(kept).lifecycle_stage == "active" and mlf.get_run(recent).lifecycle_stage == "active"
    assert not _recorded({kept, recent})
    events = AuditEvent.objects.filter(action="run.delete", target_id__in=runs)
    assert {e.actor_name for e in events} == {"operator"}  # the execute's actor, also for the recovered ones
    recovered = [e for e in events if "recovered on resume" in e.reason]
    assert len(recovered) == 2
    resumes = AuditEvent.objects.filter(action="cleanup.resume", target_id=str(execute_id)).order_by("id")
    assert [e.actor_name for e in resumes] == ["admin", "operator"]
    assert CleanupPlan.objects.get(pk=plan.pk).state == "executed"
    assert [r.status_code for r in answers if r.status_code >= 500] == []


def _token(user: Any) -> str:
    raw = ApiToken.new_raw_token()
    ApiToken.objects.create(user=user, name="ci", token_hash=hash_token(raw), hint=raw[:12])
    return raw


@pytest.mark.django_db
def test_a_lost_delete_answer_is_recorded_by_the_celery_retry(  # type: ignore[no-untyped-def]
    personas, make_experiment, settings, monkeypatch, mlflow
) -> None:
    """The same gap without a kill: MLflow commits a deletion whose answer is lost (timeout), the task gives
    the record back for Celery's retry, and the retry records that deletion from what MLflow shows (it used
    to mark the item deleted with no `run.delete` event)."""
    experiment_id, name = make_experiment("retry")
    runs = {make_run(experiment_id, status="FAILED", name=f"old-{i}") for i in range(3)}
    plan = cleanup_plan_create(actor=personas["operator"], scope="experiment", scope_value=name)
    assert task_run_execute(task_run_id=plan.plan_task_id) == "done"  # the handler, in this process
    execute = cleanup_plan_execute(actor=personas["operator"], plan_id=plan.pk, confirm=True)
    for key, value in BULK.items():
        setattr(settings, key, value)
    settings.MLFLOW_REQUEST_TIMEOUT = 2
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    with FaultProxy(mlflow) as proxy:
        settings.MLFLOW_TRACKING_URI = proxy.url
        proxy.write_path, proxy.freeze_after_writes = "/runs/delete", 2  # the 2nd deletion's answer is lost
        with pytest.raises(mlf.MlflowUnavailable):
            task_run_execute(task_run_id=execute.pk, can_retry=True)
    settings.MLFLOW_TRACKING_URI = mlflow
    assert len(_deleted(runs)) == 2 and len(_recorded(runs)) == 1
    assert TaskRun.objects.get(pk=execute.pk).state == TaskState.QUEUED  # given back for the retry
    assert task_run_execute(task_run_id=execute.pk, can_retry=True) == "done"  # Celery's retry
    assert _deleted(runs) == runs and sorted(_recorded(runs)) == sorted(runs)
    recovered = AuditEvent.objects.get(action="run.delete", reason__contains="recovered on resume")
    assert recovered.actor_name == "operator" and recovered.target_id in runs


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_reap_of_a_listed_dry_run_is_recovered(  # type: ignore[no-untyped-def]
    celery_worker, extra_worker, personas, make_experiment, client, settings, mlflow
) -> None:
    """The reaper's claim pattern ("reap these now" claims each listed run): a worker killed after MLflow
    terminated a run and before its `run.reap` event; starting the reap of the list again settles it from
    what MLflow shows (tags completed, event recorded once, attributed to who started the killed reap)."""
    settings.MAINTENANCE_HEARTBEAT_STALE_SECONDS = STALE
    experiment_id, _ = make_experiment("reap-killed")
    stuck = {make_run(experiment_id, status="RUNNING", age_days=3, name=f"stuck-{i}") for i in range(4)}
    dry = reaper_start(actor=personas["operator"], dry_run=True, threshold_hours=24, experiment=experiment_id)
    assert wait_task(dry.pk).state == TaskState.SUCCEEDED  # listed by the session worker

    def failed() -> set[str]:
        return {r for r in stuck if mlf.get_run(r).status == "FAILED"}

    def reaps() -> list[str]:
        return list(
            AuditEvent.objects.filter(action="run.reap", target_id__in=stuck).values_list("target_id", flat=True)
        )

    operator_api = {"HTTP_AUTHORIZATION": f"Bearer {_token(personas['operator'])}"}
    with FaultProxy(mlflow) as proxy:
        proxy.write_path, proxy.freeze_after_writes = "/runs/update", 2  # the 2nd run's terminate lands, held
        worker = extra_worker.start(MLFLOW_TRACKING_URI=proxy.url, **WORKER_ENV)
        started = client.post(f"/api/v1/maintenance/reaper/{dry.pk}/reap", **operator_api)
        assert started.status_code == 202, started.content
        reap_id = started.json()["id"]
        killed_at = _kill_mid_write(worker, proxy, reap_id, lambda: len(failed()) == 2)
    assert _detected_after(reap_id, killed_at) <= STALE + 3
    assert len(reaps()) == 0  # the first chunk's two runs are terminated in MLflow (the 2nd without its tags)

    extra_worker.use_session_worker()
    client.force_login(personas["admin"])
    again = client.post(f"/maintenance/tasks/{dry.pk}/reap")  # the dry run's page: reap the rest of the list
    assert again.status_code == 302, again.content
    resumed = TaskRun.objects.filter(parameters__listed_from=dry.pk).exclude(pk=reap_id).get()
    assert wait_task(resumed.pk).state == TaskState.SUCCEEDED, resumed.errors
    assert failed() == stuck and sorted(reaps()) == sorted(stuck)  # one event each, none missing or doubled
    assert all(mlf.get_run(r).tags.get(REAPED_TAG) == "true" for r in stuck)  # tags completed on recovery
    recovered = AuditEvent.objects.filter(action="run.reap", reason__contains="recovered on resume")
    assert [e.actor_name for e in recovered] == ["operator", "operator"]  # who started the reap that sent them
