"""Issue 15, case 1: a purge hard-deletes exactly the plan's runs. `mlflow gc --run-ids` (MLflow 3.x) also
hard-deletes every soft-deleted experiment with all its runs; the purge must touch nothing but the plan."""

from __future__ import annotations

import os
from typing import Any

import pytest

from maintenance.cleanup.execute import cleanup_plan_execute
from maintenance.cleanup.plan import cleanup_plan_create
from maintenance.models import TaskState
from mlopsadmin.lib import mlflow_client as mlf
from tests.maintenance.conftest import make_run, wait_task

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_purge_hard_deletes_the_planned_runs_and_nothing_else(celery_worker, personas, make_experiment, tmp_path):  # type: ignore[no-untyped-def]
    artifacts = tmp_path / "artifacts"
    # experiment A: soft-deleted, one run; nobody planned anything there
    a_id, _ = make_experiment("purge-a", artifact_location=(tmp_path / "a").as_uri())
    a_run = make_run(a_id, status="FINISHED", name="a-run")
    mlf.delete_experiment(a_id)
    # experiment B: one planned run, plus soft-deleted runs outside the plan
    b_id, _ = make_experiment("purge-b", artifact_location=artifacts.as_uri())
    doomed = make_run(b_id, status="FAILED", name="doomed")
    outside = [make_run(b_id, status="FAILED", name=f"outside-{i}") for i in range(2)]
    for run_id, size in ((doomed, 3000), (outside[0], 700)):
        folder = artifacts / run_id / "artifacts"
        folder.mkdir(parents=True)
        (folder / "weights.bin").write_bytes(b"x" * size)
    for run_id in outside:
        mlf.delete_run(run_id)  # soft-deleted before planning: not in the plan

    plan = cleanup_plan_create(actor=personas["operator"], scope="experiment", scope_value=b_id)
    assert wait_task(plan.plan_task_id).state == TaskState.SUCCEEDED
    assert set(plan.items.filter(excluded=False).values_list("run_id", flat=True)) == {doomed}
    run = wait_task(cleanup_plan_execute(actor=personas["operator"], plan_id=plan.pk, confirm=True, purge=True).pk)
    assert run.state == TaskState.SUCCEEDED, run.errors

    # hard-deleted set == planned set
    with pytest.raises(mlf.MlflowNotFound):
        mlf.get_run(doomed)
    assert not (artifacts / doomed / "artifacts").exists()
    for run_id in outside:
        assert mlf.get_run(run_id).lifecycle_stage == "deleted"  # still there, restorable
    assert (artifacts / outside[0] / "artifacts" / "weights.bin").stat().st_size == 700
    assert mlf.get_experiment(a_id).lifecycle_stage == "deleted"  # A still exists (restorable) ...
    assert mlf.get_run(a_run).run_id == a_run  # ... with its run
    purge = run.report["purge"]
    assert purge["runs_purged"] == 1 and purge["artifact_bytes_freed"] == 3000  # measured before/after
    assert purge["hard_deleted"] == [doomed]


@pytest.mark.django_db(transaction=True)
def test_a_purge_report_beyond_its_list_limit_says_showing_n_of_m(  # type: ignore[no-untyped-def]
    personas, make_experiment, monkeypatch, settings
) -> None:
    """The report keeps the first REPORT_LIST_LIMIT purged run ids (500): beyond it the JSON and the task
    page say "showing N of M" (the list was cut silently)."""
    from maintenance.cleanup import execute
    from maintenance.models import ItemOutcome
    from tests.maintenance.test_paused_worker import _executing_plan

    settings.MLFLOW_BACKEND_STORE_URI = os.environ["MLOPSADMIN_TEST_MLFLOW_STORE"]
    experiment_id, _ = make_experiment("purge-cap")
    runs = [make_run(experiment_id, status="FAILED", name=f"cap-{i}") for i in range(3)]
    plan, _task = _executing_plan(runs, experiment_id)
    for run_id in runs:
        mlf.delete_run(run_id)
    plan.items.update(outcome=ItemOutcome.DELETED)
    monkeypatch.setattr(execute, "REPORT_LIST_LIMIT", 2)
    report = execute._purge(plan, [], personas["operator"])
    assert (len(report["hard_deleted"]), report["hard_deleted_total"]) == (2, 3)
    assert report["hard_deleted_note"].startswith("showing 2 of 3 purged run ids")


@pytest.mark.django_db
def test_a_run_restored_while_its_chunk_is_purged_is_never_hard_deleted(make_experiment, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A purge reads a chunk's stages once, then deletes the chunk's artifacts (minutes on S3 for 200 runs),
    then hard-deletes. A run restored in the MLflow UI meanwhile is active again: it must be kept, and the
    purge must say so; it was hard-deleted and nothing noticed (the chunk check counts only other runs)."""
    from mlopsadmin.lib import mlflow_purge

    experiment_id, _ = make_experiment("purge-restore")
    first, restored = (make_run(experiment_id, status="FAILED", name=n) for n in ("first", "restored"))
    for run_id in (first, restored):
        mlf.delete_run(run_id)
    real_clear = mlflow_purge._clear_artifacts

    def clear_while_someone_restores(run_id: str, *args: Any) -> Any:
        freed = real_clear(run_id, *args)
        if run_id == first:
            mlf.restore_run(restored)  # the MLflow UI's "restore" on the deleted runs page
        return freed

    monkeypatch.setattr(mlflow_purge, "ARTIFACT_WORKERS", 1)
    monkeypatch.setattr(mlflow_purge, "_clear_artifacts", clear_while_someone_restores)
    result = mlf.purge_runs(os.environ["MLOPSADMIN_TEST_MLFLOW_STORE"], [first, restored])
    assert result.hard_deleted == [first]
    assert mlf.get_run(restored).lifecycle_stage == "active"
    assert result.skipped[restored].startswith("restored during the purge")
