"""Issue 14, case 6 variant for "reap these now": a reaper worker paused (SIGSTOP, VM freeze) right after it
read a listed run, swept as lost while the list was resumed and finished elsewhere, must not terminate that run
on its stale read when it wakes up (the run came alive meanwhile and the resumed worker left it running)."""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from maintenance import task_runs
from maintenance.models import ReapItem, TaskRun
from maintenance.reap_listed import reap_listed_run, reaper_reap_listed
from maintenance.reaper import reaper_run, reaper_start
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from tests.maintenance.conftest import make_run
from tests.maintenance.test_reap_listed import dry_run  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


def pause_after_the_reread(monkeypatch, task: TaskRun, run_id: str, resume: Any) -> None:  # type: ignore[no-untyped-def]
    """The next re-read of the chunk with `run_id` freezes the worker right after it: meanwhile that run logs a
    metric (alive again), the sweep sees no heartbeat, and `resume(record)` finishes the task elsewhere. The
    paused worker then wakes up with what it read before the pause."""
    real_get_runs = mlf.get_runs

    def get_runs_then_pause(run_ids: list[str], *args: Any, **kwargs: Any) -> Any:
        fresh = real_get_runs(run_ids, *args, **kwargs)
        if run_id in run_ids:
            monkeypatch.setattr(mlf, "get_runs", real_get_runs)
            mlf.log_batch(run_id, metrics=[("loss", 0.1, int(time.time() * 1000), 9)])  # alive again
            TaskRun.objects.filter(pk=task.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
            assert task_runs.task_runs_sweep_stale() == 1
            resumed = task_runs.task_run_claim(task_run_id=task.pk)
            assert resumed is not None
            resume(resumed)
        return fresh

    monkeypatch.setattr(mlf, "get_runs", get_runs_then_pause)


def test_a_paused_reaper_that_wakes_after_a_resume_terminates_nothing(personas, dry_run, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    listed, _, stuck = dry_run
    task = reaper_reap_listed(actor=personas["operator"], dry_run_id=listed.pk)
    paused = task_runs.task_run_claim(task_run_id=task.pk)
    assert paused is not None
    first = stuck[0]
    pause_after_the_reread(monkeypatch, task, first, reap_listed_run)
    with contextlib.suppress(task_runs.TaskLost):  # the woken worker notices it was taken over and stops
        reap_listed_run(paused)
    assert mlf.get_run(first).status == "RUNNING"  # alive: left running by the resumed worker and the woken one
    assert ReapItem.objects.get(dry_run=listed, run_id=first).outcome == "skipped"
    reaped = {r for r in stuck if mlf.get_run(r).status == "FAILED"}
    recorded = set(AuditEvent.objects.filter(action="run.reap").values_list("target_id", flat=True))
    assert reaped == recorded == set(stuck[1:])


def test_a_paused_scheduled_reaper_that_wakes_after_a_takeover_terminates_nothing(  # type: ignore[no-untyped-def]
    personas, make_experiment, monkeypatch
) -> None:
    """The scheduled reaper (not a reviewed list) paused right after its re-read of a chunk, swept as lost and
    run again elsewhere. Before: the woken worker terminated every run of its stale read, also one that came
    alive meanwhile and that the resumed task had left running (no claims, no fence before the writes)."""
    experiment_id, _ = make_experiment("paused-scheduled-reaper")
    stuck = [make_run(experiment_id, status="RUNNING", age_days=3, name=f"stuck-{i}") for i in range(3)]
    task = reaper_start(actor=personas["operator"], dry_run=False, threshold_hours=24, experiment=experiment_id)
    paused = task_runs.task_run_claim(task_run_id=task.pk)
    assert paused is not None
    first = stuck[0]
    pause_after_the_reread(monkeypatch, task, first, reaper_run)
    with contextlib.suppress(task_runs.TaskLost):  # the woken worker notices it was taken over and stops
        reaper_run(paused)
    assert mlf.get_run(first).status == "RUNNING"  # alive: left running by the resumed task and the woken one
    reaped = {r for r in stuck if mlf.get_run(r).status == "FAILED"}
    events = list(AuditEvent.objects.filter(action="run.reap", target_id__in=stuck).values_list("target_id", flat=True))
    assert reaped == set(events) == set(stuck[1:]) and len(events) == 2  # each reaped run recorded once
