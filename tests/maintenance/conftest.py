"""Helpers of the maintenance tests: waiting for a task run, uniquely named experiments and runs. The
real Celery worker and the moto S3 server are shared fixtures of tests/servers.py."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.servers import WORKER_PAGE_SIZE  # noqa: F401 - re-exported for the tests

DAY_MS = 86_400_000


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
