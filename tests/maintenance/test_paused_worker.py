"""Issue 14, case 6 variant: the worker was only paused (SIGSTOP, a long GC or VM freeze), not dead. It was
swept as lost, the plan was resumed and finished by another worker, and a run the resume skipped (tagged
keep meanwhile) must not be deleted when the paused worker wakes up with its stale view of that run: a
worker whose claim was taken over sends no delete (fencing), so MLflow keeps equalling the record."""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from maintenance import task_runs
from maintenance.cleanup import claims
from maintenance.cleanup.execute import cleanup_plan_run
from maintenance.models import CleanupPlan, ItemOutcome, PlanItem, PlanState, TaskKind, TaskRun, TaskState
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from tests.maintenance.conftest import make_run


def _executing_plan(run_ids: list[str], experiment_id: str) -> tuple[CleanupPlan, TaskRun]:
    task = TaskRun.objects.create(kind=TaskKind.CLEANUP_EXECUTE, started_by="operator")
    plan = CleanupPlan.objects.create(
        scope="all",
        older_than_days=90,
        statuses=["FAILED"],
        cutoff_ms=int(time.time() * 1000) - 90 * 86_400_000,
        state=PlanState.EXECUTING,
        created_by="operator",
        candidate_count=len(run_ids),
        planned_at=timezone.now(),
        execute_task=task,
        executed_by="operator",
    )
    task.parameters = {"plan_id": plan.pk, "purge": False}
    task.save()
    for run_id in run_ids:
        PlanItem.objects.create(plan=plan, run_id=run_id, experiment_id=experiment_id, status="FAILED", reason="old")
    return plan, task


@pytest.mark.django_db(transaction=True)
def test_a_paused_worker_that_wakes_after_a_resume_deletes_nothing(  # type: ignore[no-untyped-def]
    personas, make_experiment, monkeypatch
) -> None:
    experiment_id, _ = make_experiment("paused")
    runs = [make_run(experiment_id, status="FAILED", name=f"old-{i}") for i in range(3)]
    plan, task = _executing_plan(runs, experiment_id)
    paused = task_runs.task_run_claim(task_run_id=task.pk)
    assert paused is not None
    real_get_runs = mlf.get_runs
    first = runs[0]

    def get_runs_then_pause(run_ids: list[str], *args: Any, **kwargs: Any) -> Any:
        fresh = real_get_runs(run_ids, *args, **kwargs)
        if first in run_ids and not PlanItem.objects.filter(run_id=first, outcome=ItemOutcome.SKIPPED).exists():
            # the worker is frozen right after reading its chunk; meanwhile the owner tags a run keep, the
            # sweep sees no heartbeat, the plan is resumed and another worker finishes it
            monkeypatch.setattr(mlf, "get_runs", real_get_runs)
            mlf.set_run_tag(first, "keep", "true")
            TaskRun.objects.filter(pk=task.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
            assert task_runs.task_runs_sweep_stale() == 1
            resumed = task_runs.task_run_claim(task_run_id=task.pk)
            assert resumed is not None
            cleanup_plan_run(resumed)
        return fresh  # the paused worker wakes up with what it read before the pause

    monkeypatch.setattr(mlf, "get_runs", get_runs_then_pause)
    with contextlib.suppress(task_runs.TaskLost):  # the woken worker notices it was taken over and stops
        cleanup_plan_run(paused)
    assert PlanItem.objects.get(plan=plan, run_id=first).outcome == ItemOutcome.SKIPPED
    assert mlf.get_run(first).lifecycle_stage == "active"  # the kept run was not deleted by the woken worker
    deleted = {r for r in runs if mlf.get_run(r).lifecycle_stage == "deleted"}
    recorded = set(AuditEvent.objects.filter(action="run.delete").values_list("target_id", flat=True))
    assert deleted == recorded == set(runs[1:])
    assert TaskRun.objects.get(pk=task.pk).state == TaskState.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_paused_worker_cannot_hide_the_resumed_workers_deletion(  # type: ignore[no-untyped-def]
    personas, make_experiment, monkeypatch
) -> None:
    """The woken worker reads a run the resumed worker has just deleted (not yet recorded): its stale
    'already deleted' must not settle the item as skipped, or MLflow's deletion would have no record."""
    experiment_id, _ = make_experiment("paused-hide")
    runs = [make_run(experiment_id, status="FAILED", name=f"old-{i}") for i in range(2)]
    plan, task = _executing_plan(runs, experiment_id)
    paused = task_runs.task_run_claim(task_run_id=task.pk)
    assert paused is not None
    real_get_runs = mlf.get_runs
    first = runs[0]
    resumed: list[TaskRun] = []

    def paused_during_read(run_ids: list[str], *args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(mlf, "get_runs", real_get_runs)
        TaskRun.objects.filter(pk=task.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
        assert task_runs.task_runs_sweep_stale() == 1
        other = task_runs.task_run_claim(task_run_id=task.pk)
        assert other is not None
        resumed.append(other)
        item = claims.item_take(PlanItem.objects.get(plan=plan, run_id=first).pk, other)
        assert item is not None
        claims.item_sending(item, other)
        mlf.delete_run(first)  # the resumed worker's delete lands; then it is slow to record it
        return real_get_runs(run_ids, *args, **kwargs)

    monkeypatch.setattr(mlf, "get_runs", paused_during_read)
    with contextlib.suppress(task_runs.TaskLost):
        cleanup_plan_run(paused)
    cleanup_plan_run(resumed[0])  # the resumed worker goes on
    deleted = {r for r in runs if mlf.get_run(r).lifecycle_stage == "deleted"}
    recorded = list(AuditEvent.objects.filter(action="run.delete").values_list("target_id", flat=True))
    assert deleted == set(runs) and sorted(recorded) == sorted(runs)
    assert PlanItem.objects.get(plan=plan, run_id=first).outcome == ItemOutcome.DELETED
