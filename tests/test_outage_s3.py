"""Outage of the S3-compatible artifact store, with real processes: a `moto_server` process on 127.0.0.1
(killed, then started again on the same port) and the session's MLflow server. The capacity check is
started from the maintenance page and run by the same service call the Celery worker makes, in this
process (a worker would run it against its own, fixed S3 endpoint).

What the user sees: the check finishes and lists, per experiment, which S3 location could not be listed;
the maintenance, task and other pages render; the check's samples are complete (an unreachable
experiment is "unknown", never a made-up size); when S3 answers again the next check measures it."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator

import pytest

from maintenance.models import FINAL_STATES, CapacitySample, TaskRun, TaskState
from maintenance.tasks import task_run_execute
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib import s3

from .s3server import MotoProcess
from .test_outages import assert_clear_answers, get_pages

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture
def s3_process(settings) -> Iterator[MotoProcess]:  # type: ignore[no-untyped-def]
    server = MotoProcess()
    server.start()
    settings.S3_ENDPOINT_URL, settings.S3_REGION = server.url, "us-east-1"
    settings.S3_ACCESS_KEY_ID = settings.S3_SECRET_ACCESS_KEY = "testing"
    yield server
    server.kill()


def seed_bucket(bucket: str) -> None:
    """The experiment's artifacts: 3 objects, 1,500 bytes (moto keeps them in memory, so a restarted
    server is seeded again; a real S3 keeps them)."""
    with contextlib.suppress(s3.S3Error):
        s3.create_bucket(bucket)
    for index, size in enumerate((1000, 300, 200)):
        s3.put_object(bucket, f"mlruns/9/run{index}/artifacts/model.bin", b"x" * size)


def capacity_check(client) -> TaskRun:  # type: ignore[no-untyped-def]
    """Start the check from the maintenance page as the operator; run it as the worker would."""
    response = client.post("/maintenance/capacity/start")
    assert response.status_code == 302, response.content
    run = TaskRun.objects.filter(kind="capacity").latest("id")
    task_run_execute(task_run_id=run.pk, celery_task_id=f"s3-outage-{run.pk}")
    run.refresh_from_db()
    assert run.state in FINAL_STATES
    return run


def experiment_sample(run: TaskRun, experiment_id: str) -> CapacitySample:
    return CapacitySample.objects.get(task_run=run, scope="experiment", key=experiment_id)


def test_s3_down_capacity_check_reports_it_pages_render_and_it_recovers(  # type: ignore[no-untyped-def]
    login, mlflow, s3_process, settings
) -> None:
    unique = uuid.uuid4().hex[:8]
    bucket = f"outage-{unique}"
    seed_bucket(bucket)
    experiment_id = mlf.create_experiment(f"/s3-outage/{unique}/exp", artifact_location=f"s3://{bucket}/mlruns/9")
    operator = login("operator")

    healthy = capacity_check(operator)
    assert healthy.state == TaskState.SUCCEEDED
    assert not [e for e in healthy.errors if bucket in e]
    assert experiment_sample(healthy, experiment_id).size_bytes == 1500

    s3_process.kill()  # the S3 endpoint is down: connections are refused
    started = time.monotonic()
    down = capacity_check(operator)
    assert time.monotonic() - started < 120  # boto's bounded retries, not a hang
    # The check finishes (other stores are still measured) and says which location failed and why.
    assert down.state == TaskState.SUCCEEDED
    failed = [e for e in down.errors if bucket in e]
    assert len(failed) == 1 and f"/s3-outage/{unique}/exp" in failed[0], down.errors
    assert "Could not connect to the endpoint URL" in failed[0]
    assert down.counts["errors"] >= 1
    # Nothing half-written: the failed experiment is "unknown" (never a made-up size), the check's samples
    # are complete (one per experiment, one total), the healthy check's samples are untouched.
    sample = experiment_sample(down, experiment_id)
    assert sample.size_bytes is None and sample.object_count is None
    assert "Could not connect" in sample.detail["note"]
    assert CapacitySample.objects.filter(task_run=down, scope="experiment").count() == down.counts["experiments"]
    assert CapacitySample.objects.filter(task_run=down, scope="total").count() == 1
    assert experiment_sample(healthy, experiment_id).size_bytes == 1500
    assert AuditEvent.objects.filter(action="capacity.check", target_id=str(down.pk)).count() == 1

    # The pages render and say what happened.
    task_page = operator.get(f"/maintenance/tasks/{down.pk}/").content.decode()
    assert f"s3://{bucket}/mlruns/9/" in task_page and "Could not connect to the endpoint URL" in task_page
    index = operator.get("/maintenance/")
    assert index.status_code == 200
    statuses = assert_clear_answers(login("admin"), get_pages())
    assert statuses["/maintenance/"] == 200 and statuses["/catalog/"] == 200 and statuses["/registry/"] == 200

    s3_process.start()  # the same endpoint answers again
    seed_bucket(bucket)
    recovered = capacity_check(operator)
    assert recovered.state == TaskState.SUCCEEDED
    assert not [e for e in recovered.errors if bucket in e], recovered.errors
    assert experiment_sample(recovered, experiment_id).size_bytes == 1500
    store = CapacitySample.objects.get(task_run=recovered, scope="store", key=f"s3://{bucket}")
    assert store.size_bytes == 1500 and not store.detail["unknown_experiments"]


def test_s3_down_store_sample_is_unknown_not_zero(login, mlflow, s3_process) -> None:  # type: ignore[no-untyped-def]
    unique = uuid.uuid4().hex[:8]
    bucket = f"outage-{unique}"
    seed_bucket(bucket)
    mlf.create_experiment(f"/s3-outage/{unique}/exp", artifact_location=f"s3://{bucket}/mlruns/9")
    s3_process.kill()
    down = capacity_check(login("operator"))
    store = CapacitySample.objects.get(task_run=down, scope="store", key=f"s3://{bucket}")
    assert store.size_bytes is None
    assert store.detail["failed_experiments"] == 1 and store.detail["measured_bytes"] == 0
    page = login("operator").get("/maintenance/").content.decode()
    assert "not readable" in page  # the store row says its size is unknown this time, not 0 B
