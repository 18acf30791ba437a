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
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from tests.maintenance.test_reap_listed import dry_run  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_paused_reaper_that_wakes_after_a_resume_terminates_nothing(personas, dry_run, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    listed, _, stuck = dry_run
    task = reaper_reap_listed(actor=personas["operator"], dry_run_id=listed.pk)
    paused = task_runs.task_run_claim(task_run_id=task.pk)
    assert paused is not None
    real_get_runs = mlf.get_runs
    first = stuck[0]

    def get_runs_then_pause(run_ids: list[str], *args: Any, **kwargs: Any) -> Any:
        fresh = real_get_runs(run_ids, *args, **kwargs)
        if first in run_ids:  # the reaper's re-read of its chunk right before it terminates: frozen here
            monkeypatch.setattr(mlf, "get_runs", real_get_runs)
            mlf.log_batch(first, metrics=[("loss", 0.1, int(time.time() * 1000), 9)])  # alive again
            TaskRun.objects.filter(pk=task.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
            assert task_runs.task_runs_sweep_stale() == 1
            resumed = task_runs.task_run_claim(task_run_id=task.pk)
            assert resumed is not None
            reap_listed_run(resumed)
        return fresh  # the paused worker wakes up with what it read before the pause

    monkeypatch.setattr(mlf, "get_runs", get_runs_then_pause)
    with contextlib.suppress(task_runs.TaskLost):  # the woken worker notices it was taken over and stops
        reap_listed_run(paused)
    assert mlf.get_run(first).status == "RUNNING"  # alive: left running by the resumed worker and the woken one
    assert ReapItem.objects.get(dry_run=listed, run_id=first).outcome == "skipped"
    reaped = {r for r in stuck if mlf.get_run(r).status == "FAILED"}
    recorded = set(AuditEvent.objects.filter(action="run.reap").values_list("target_id", flat=True))
    assert reaped == recorded == set(stuck[1:])
