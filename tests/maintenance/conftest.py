"""Fixtures of the maintenance tests: a real Celery worker process (on the test database, the session's
MLflow server and an embedded or Redis broker, on a queue of its own), a moto S3 server on 127.0.0.1,
and helpers to make uniquely named experiments and runs."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAY_MS = 86_400_000
WORKER_PAGE_SIZE = 7  # tiny pages: every plan in these tests spans several pages


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    from django.conf import settings
    from moto.server import ThreadedMotoServer

    from mlopsadmin.lib.mlflow_server import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    previous = (settings.S3_ENDPOINT_URL, settings.S3_ACCESS_KEY_ID, settings.S3_SECRET_ACCESS_KEY, settings.S3_REGION)
    settings.S3_ENDPOINT_URL, settings.S3_ACCESS_KEY_ID, settings.S3_SECRET_ACCESS_KEY = url, "testing", "testing"
    settings.S3_REGION = "us-east-1"
    yield url
    settings.S3_ENDPOINT_URL, settings.S3_ACCESS_KEY_ID, settings.S3_SECRET_ACCESS_KEY, settings.S3_REGION = previous
    server.stop()


def _worker_database_env() -> dict[str, str]:
    from django.conf import settings
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return {"SQLITE_PATH": str(name), "DATABASE_URL": ""}
    url = os.environ.get("DATABASE_URL") or settings.DATABASE_URL
    base, _, _ = url.rpartition("/")
    return {"DATABASE_URL": f"{base}/{name}"}


def _point_app_at(broker: str, queue_name: str) -> None:
    """Send this process's tasks to the test worker: set the broker and queue and drop any connection
    pool already opened on another broker (Celery keeps pools once created)."""
    from mlopsadmin.celery import app

    if app.conf.broker_url != broker:
        app.conf.broker_url = broker
        app._pool = None  # the next send opens a pool on the test broker
        app.amqp._producer_pool = None
    app.conf.task_default_queue = queue_name
    app.conf.task_always_eager = False


@pytest.fixture
def celery_worker(_celery_worker_process: tuple[str, str]) -> str:
    """A real `celery worker` subprocess (one per session); every test re-points the app at it."""
    broker, queue_name = _celery_worker_process
    _point_app_at(broker, queue_name)
    return queue_name


@pytest.fixture(scope="session")
def _celery_worker_process(
    django_db_setup: None, django_db_blocker: Any, mlflow_server: str, s3_server: str
) -> Iterator[tuple[str, str]]:
    """The worker subprocess; yields (broker URL, queue name)."""
    from django.conf import settings

    workdir = Path(tempfile.mkdtemp(prefix="mlopsadmin-worker-"))
    # With Redis (CI) the worker shares the app's own broker, so nothing needs re-pointing; without it, a
    # SQLite broker file of the test's own.
    broker = settings.CELERY_BROKER_URL if settings.REDIS_URL else f"sqla+sqlite:///{workdir / 'broker.sqlite3'}"
    queue_name = f"maintenance-tests-{uuid.uuid4().hex[:10]}"
    _point_app_at(broker, queue_name)
    env = {
        **os.environ,
        **_worker_database_env(),
        "DJANGO_SETTINGS_MODULE": "mlopsadmin.settings",
        "SECRET_KEY": "tests-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "MLOPSADMIN_VAR_DIR": str(workdir),
        "MLFLOW_TRACKING_URI": mlflow_server,
        # the session server's own store (SQLite or PostgreSQL), whatever the settings point at just now
        "MLFLOW_BACKEND_STORE_URI": os.environ["MLOPSADMIN_TEST_MLFLOW_STORE"],
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "S3_ENDPOINT_URL": s3_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MAINTENANCE_RUNS_PAGE_SIZE": str(WORKER_PAGE_SIZE),
        "MAINTENANCE_ARTIFACT_WARNING_BYTES": "1",  # every check with artifacts warns: alerts are visible
        "MAINTENANCE_ARTIFACT_CRITICAL_BYTES": str(50 * 1024**3),
        "MLFLOW_ARTIFACTS_DESTINATION": "",
        "NOTIFY_EMAILS": "",
        "NOTIFY_WEBHOOK_URL": "",
    }
    log_path = workdir / "worker.log"
    log = open(log_path, "ab")  # noqa: SIM115 - the child owns it
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "mlopsadmin",
            "worker",
            "--pool",
            "solo",
            "-Q",
            queue_name,
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited: {log_path.read_text()[-3000:]}")
        if b"ready." in log_path.read_bytes():
            break
        time.sleep(0.3)
    else:
        raise TimeoutError(f"celery worker not ready: {log_path.read_text()[-3000:]}")
    os.environ["MLOPSADMIN_TEST_WORKER_LOG"] = str(log_path)
    yield broker, queue_name
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def wait_task(task_run_id: int, *, timeout: float = 120.0) -> Any:
    """Wait until the worker finished a TaskRun (test helper, not a timing assertion)."""
    from maintenance.models import FINAL_STATES, TaskRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = TaskRun.objects.get(pk=task_run_id)
        if run.state in FINAL_STATES:
            return run
        time.sleep(0.25)
    log = os.environ.get("MLOPSADMIN_TEST_WORKER_LOG")
    tail = Path(log).read_text()[-4000:] if log else ""
    raise AssertionError(f"task run {task_run_id} still {run.state} after {timeout} s\n{tail}")


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def make_experiment(mlflow: str, unique: str) -> Callable[..., tuple[str, str]]:
    from mlopsadmin.lib import mlflow_client as mlf

    def _make(
        suffix: str = "exp", *, prefix: str = "/maint-tests", artifact_location: str | None = None
    ) -> tuple[str, str]:
        name = f"{prefix}/{unique}-{suffix}"
        return mlf.create_experiment(name, artifact_location=artifact_location), name

    return _make


def make_run(
    experiment_id: str,
    *,
    status: str = "FAILED",
    age_days: float = 200,
    tags: dict[str, str] | None = None,
    metric_age_days: float | None = None,
    name: str = "run",
) -> str:
    """A run started `age_days` ago; ended a little later unless RUNNING; optional metric logged at
    `metric_age_days` ago (sign of life)."""
    from mlopsadmin.lib import mlflow_client as mlf

    now = int(time.time() * 1000)
    start = now - int(age_days * DAY_MS)
    run_id = mlf.create_run(experiment_id, run_name=name, tags=tags, start_time=start)
    if metric_age_days is not None:
        mlf.log_batch(run_id, metrics=[("loss", 0.5, now - int(metric_age_days * DAY_MS), 0)])
    if status != "RUNNING":
        mlf.set_terminated(run_id, status=status, end_time=start + 60_000)
    return run_id
