"""Issue 15, cases 3 and 4: a RUNNING run is judged by its last sign of life, whatever its end_time says (a
finished run resumed with `mlflow.start_run(run_id=…)` and killed keeps its old end_time), and a reaped run
ends at that last sign of life, tagged so, so it enters the cleanup on time. The reaper's handler runs in this
process, as the worker runs it, against the session's real MLflow server; runs are resumed by a real
`mlflow.start_run(run_id=…)` in a Python process that then dies."""

from __future__ import annotations

import time
from typing import Any

import pytest

from checklists.models import FAIL
from checklists.probes import stuck_runs
from maintenance.models import TaskKind, TaskRun, TaskState
from maintenance.reaper import SignOfLife, is_stuck, last_sign_of_life
from maintenance.tasks import task_run_execute
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib import mlflow_support
from tests.maintenance.conftest import DAY_MS, make_run
from tests.maintenance.test_plan_sources import _plan, _session_store

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

HOUR_MS = 3_600_000


def _now() -> int:
    return int(time.time() * 1000)


def _reap(experiment_id: str, *, dry_run: bool, hours: float = 24.0) -> TaskRun:
    run = TaskRun.objects.create(
        kind=TaskKind.REAPER,
        started_by="tests",
        parameters={"dry_run": dry_run, "threshold_hours": hours, "experiment_id": experiment_id},
    )
    assert task_run_execute(task_run_id=run.pk) == "done"
    run.refresh_from_db()
    assert run.state == TaskState.SUCCEEDED, run.errors
    return run


def _resumed(experiment_id: str, *, age_days: float, metrics: list[tuple[str, float, int, int]], name: str) -> str:
    """A run that FINISHED long ago, then was resumed by a script that logged `metrics` and was killed."""
    run_id = make_run(experiment_id, status="FINISHED", age_days=age_days, name=name)
    mlflow_support.resume_and_die(run_id, metrics=metrics)
    resumed = mlf.get_run(run_id)
    assert resumed.status == "RUNNING" and resumed.end_time, "MLflow keeps the old end_time of a resumed run"
    return run_id


def test_a_resumed_then_killed_run_is_reaped_and_a_resumed_live_one_is_not(mlflow: str, unique: str) -> None:
    experiment_id = mlf.create_experiment(f"/reap-{unique}/resumed")
    silent_at = _now() - 5 * DAY_MS
    silent = _resumed(experiment_id, age_days=10, metrics=[("loss", 0.4, silent_at, 1)], name="resumed-killed")
    alive = _resumed(experiment_id, age_days=10, metrics=[("loss", 0.3, _now() - HOUR_MS, 1)], name="resumed-alive")

    dry = _reap(experiment_id, dry_run=True)
    assert {r["run_id"] for r in dry.report["runs"]} == {silent}
    assert alive in {r["run_id"] for r in dry.report["left_alone"]}
    assert mlf.get_run(silent).status == "RUNNING"  # a dry run changes nothing

    real = _reap(experiment_id, dry_run=False)
    assert real.counts["reaped"] == 1
    reaped = mlf.get_run(silent)
    assert (reaped.status, reaped.end_time) == ("FAILED", silent_at)
    assert reaped.tags["mlopsadmin.reaped"] == "true"
    assert reaped.tags["mlopsadmin.end_time_source"] == "last_metric"
    assert mlf.get_run(alive).status == "RUNNING"


def test_a_reaped_run_ends_at_its_last_sign_of_life_and_enters_the_cleanup_on_time(mlflow: str, unique: str) -> None:
    experiment_id = mlf.create_experiment(f"/reap-{unique}/ends")
    silent = make_run(experiment_id, status="RUNNING", age_days=200, metric_age_days=150, name="silent-150-days")
    no_metric = make_run(experiment_id, status="RUNNING", age_days=120, name="no-metric")
    resumed = _resumed(experiment_id, age_days=130, metrics=[], name="resumed-without-logging")
    expected = {
        silent: (mlf.get_run(silent).last_metric_time, "last_metric"),
        no_metric: (mlf.get_run(no_metric).start_time, "start_time"),
        resumed: (mlf.get_run(resumed).end_time, "previous_end_time"),
    }

    report = _reap(experiment_id, dry_run=False).report
    assert {r["run_id"]: r["end_time_source"] for r in report["runs"]} == {k: v[1] for k, v in expected.items()}
    for run_id, (end_time, source) in expected.items():
        reaped = mlf.get_run(run_id)
        assert (reaped.status, reaped.end_time) == ("FAILED", end_time), run_id
        assert reaped.tags["mlopsadmin.reaped"] == "true"
        assert reaped.tags["mlopsadmin.end_time_source"] == source

    _, items = _plan(scope="experiment", scope_value=experiment_id)  # FAILED runs that ended > 90 days ago
    assert {run_id for run_id, item in items.items() if not item[1]} == set(expected)


@pytest.mark.parametrize("evidence", ["backend store", "tracking API"])
def test_a_resumed_run_logging_lower_steps_is_judged_by_its_newest_metric(
    mlflow: str, unique: str, settings: Any, evidence: str
) -> None:
    """MLflow's "latest" metric is the highest step: a resumed script that starts its steps again from 0
    leaves it at the old value. The reaper looks at the newest timestamp before it ends anything."""
    settings.MLFLOW_BACKEND_STORE_URI = _session_store() if evidence == "backend store" else ""
    experiment_id = mlf.create_experiment(f"/reap-{unique}/steps")

    def restarted(name: str, logged_at: int) -> str:
        run_id = make_run(experiment_id, status="RUNNING", age_days=20, name=name)
        first_at = _now() - 19 * DAY_MS
        mlf.log_batch(run_id, metrics=[("loss", 0.9, first_at, 100)])
        mlf.set_terminated(run_id, status="FINISHED", end_time=first_at)
        mlflow_support.resume_and_die(run_id, metrics=[("loss", 0.5, logged_at, 3)])
        assert mlf.get_run(run_id).last_metric_time == first_at  # MLflow's "latest": the step-100 point
        return run_id

    live = restarted("restarted-live", _now() - HOUR_MS)
    died_at = _now() - 4 * DAY_MS
    died = restarted("restarted-died", died_at)

    report = _reap(experiment_id, dry_run=False).report
    assert {r["run_id"] for r in report["runs"]} == {died}
    assert mlf.get_run(live).status == "RUNNING"
    assert (mlf.get_run(died).status, mlf.get_run(died).end_time) == ("FAILED", died_at)


@pytest.mark.parametrize("evidence", ["backend store", "tracking API"])
def test_a_logged_model_is_a_sign_of_life(mlflow: str, unique: str, settings: Any, evidence: str) -> None:
    settings.MLFLOW_BACKEND_STORE_URI = _session_store() if evidence == "backend store" else ""
    experiment_id = mlf.create_experiment(f"/reap-{unique}/models")
    checkpointing = make_run(experiment_id, status="RUNNING", age_days=3, metric_age_days=3, name="checkpointing")
    mlflow_support.create_logged_model(experiment_id, checkpointing)  # MLflow 3: a checkpoint logged just now
    silent = make_run(experiment_id, status="RUNNING", age_days=3, metric_age_days=3, name="silent")

    report = _reap(experiment_id, dry_run=True).report
    assert {r["run_id"] for r in report["runs"]} == {silent}
    assert {r["run_id"]: r["end_time_source"] for r in report["left_alone"]} == {checkpointing: "logged_model"}


@pytest.mark.parametrize("evidence", ["backend store", "tracking API"])
def test_a_trace_is_a_sign_of_life(mlflow: str, unique: str, settings: Any, evidence: str) -> None:
    """A GenAI run logs traces, not metrics: one that recorded a trace just now is alive (it was reaped,
    ending an agent's run in the middle of its work)."""
    settings.MLFLOW_BACKEND_STORE_URI = _session_store() if evidence == "backend store" else ""
    experiment_id = mlf.create_experiment(f"/reap-{unique}/traces")
    tracing = make_run(experiment_id, status="RUNNING", age_days=3, name="tracing")
    mlflow_support.log_trace(experiment_id, tracing)
    silent = make_run(experiment_id, status="RUNNING", age_days=3, name="silent")

    report = _reap(experiment_id, dry_run=True).report
    assert {r["run_id"] for r in report["runs"]} == {silent}
    assert {r["run_id"]: r["end_time_source"] for r in report["left_alone"]} == {tracing: "last_trace"}


@pytest.mark.parametrize("evidence", ["backend store", "tracking API"])
def test_a_sign_of_life_from_the_future_does_not_keep_a_dead_run_alive(
    mlflow: str, unique: str, settings: Any, evidence: str
) -> None:
    """A metric logged with a wrong explicit timestamp (microseconds for milliseconds, a training box whose
    clock is ahead) is dated in the future: the run looked alive forever and nothing ever ended it. A time
    more than an hour ahead of now is not evidence; the run is judged on the rest (here its metric of three
    days ago), and its end time is never set in the future."""
    settings.MLFLOW_BACKEND_STORE_URI = _session_store() if evidence == "backend store" else ""
    experiment_id = mlf.create_experiment(f"/reap-{unique}/future")
    dead = make_run(experiment_id, status="RUNNING", age_days=3, metric_age_days=3, name="dead")
    future = _now() * 1000  # microseconds passed as milliseconds: year ~58,000
    mlf.log_batch(dead, metrics=[("clock", 1.0, future, 0)])
    live = make_run(experiment_id, status="RUNNING", age_days=3, metric_age_days=0.01, name="live")

    report = _reap(experiment_id, dry_run=True).report
    assert {r["run_id"] for r in report["runs"]} == {dead}
    assert {r["run_id"] for r in report["left_alone"]} == {live}
    _reap(experiment_id, dry_run=False)
    assert mlf.get_run(dead).status == "FAILED" and mlf.get_run(dead).end_time < _now() - 2 * DAY_MS


def test_the_rule_is_a_pure_function_of_the_run() -> None:
    def run(status: str, start: int | None, end: int | None, metrics: dict[str, int]) -> mlf.Run:
        return mlf.Run("r", "1", "r", status, start, end, "active", "", metric_timestamps=metrics)

    assert last_sign_of_life(run("RUNNING", 100, 300, {"loss": 200})) == SignOfLife(300, "previous_end_time")
    assert last_sign_of_life(run("RUNNING", 100, None, {"a": 200, "b": 250})) == SignOfLife(250, "last_metric")
    assert last_sign_of_life(run("RUNNING", 100, None, {"a": 100})) == SignOfLife(100, "last_metric")  # tie
    activity = mlf.RunActivity("r", last_metric_time=400, last_model_time=500)
    assert last_sign_of_life(run("RUNNING", 100, None, {"a": 200}), activity) == SignOfLife(500, "logged_model")
    assert is_stuck(run("RUNNING", 100, 300, {}), cutoff_ms=301)
    assert not is_stuck(run("RUNNING", 100, 300, {}), cutoff_ms=300)
    assert not is_stuck(run("FINISHED", 100, 200, {}), cutoff_ms=1000)
    assert not is_stuck(run("RUNNING", None, None, {}), cutoff_ms=1000)  # no time recorded: not judged


def test_the_weekly_probe_and_the_plan_use_the_reapers_rule(mlflow: str, unique: str, settings: Any) -> None:
    settings.MAINTENANCE_REAPER_THRESHOLD_HOURS = 400 * 24  # older than anything other tests leave running
    experiment_id = mlf.create_experiment(f"/reap-{unique}/probe")
    stuck = _resumed(experiment_id, age_days=500, metrics=[("loss", 0.2, _now() - 450 * DAY_MS, 1)], name="stuck")
    alive = _resumed(experiment_id, age_days=500, metrics=[("loss", 0.2, _now() - 300 * DAY_MS, 1)], name="alive")

    probe = stuck_runs()
    assert probe.status == FAIL and stuck in probe.evidence and alive not in probe.evidence

    _, items = _plan(scope="experiment", scope_value=experiment_id)
    assert items[stuck][2].startswith("still RUNNING: stuck") and "the reaper's job" in items[stuck][2]
    assert items[alive][2].startswith("still RUNNING: alive")

    _reap(experiment_id, dry_run=False, hours=400 * 24)
    assert stuck_runs().status != FAIL
