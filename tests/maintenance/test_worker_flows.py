"""Cleanup plan → execute, the reaper and the capacity check, run by a real Celery worker process
against the real MLflow server (and a moto S3 server)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from maintenance import selectors
from maintenance.capacity.check import capacity_check_start
from maintenance.cleanup.execute import cleanup_plan_execute
from maintenance.cleanup.plan import cleanup_plan_create
from maintenance.cleanup.sources import SOURCE_STORE
from maintenance.models import CapacitySample, ItemOutcome, PlanState, TaskState
from maintenance.reaper import reaper_start
from mlopsadmin.core.errors import Conflict
from mlopsadmin.core.models import AuditEvent, Team
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib import mlflow_support, s3
from tests.maintenance.conftest import WORKER_PAGE_SIZE, make_run, wait_task

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _register_from_run(model_name: str, run_id: str) -> None:
    mlf.create_registered_model(model_name)
    mlf.create_model_version(model_name, source=f"runs:/{run_id}/model", run_id=run_id)


def test_plan_then_execute_deletes_exactly_the_planned_runs(celery_worker, personas, make_experiment, unique):  # type: ignore[no-untyped-def]
    experiment_id, name = make_experiment("cleanup")
    candidates = {make_run(experiment_id, status="FAILED", name=f"old-failed-{i}") for i in range(9)}
    candidates.add(make_run(experiment_id, status="KILLED", name="old-killed"))
    gains_keep = make_run(experiment_id, status="FAILED", name="gains-keep-later")
    finished = make_run(experiment_id, status="FINISHED", name="old-finished")
    recent = make_run(experiment_id, status="FAILED", age_days=3, name="recent-failed")
    keep = make_run(experiment_id, status="FAILED", tags={"keep": "TRUE"}, name="keep")
    tagged = make_run(experiment_id, status="FAILED", tags={"mlflow.registeredModelName": "x"}, name="tagged")
    version_backed = make_run(experiment_id, status="FAILED", name="version-backed-no-tag")
    _register_from_run(f"maint-{unique}-runs-source", version_backed)
    logged_backed = make_run(experiment_id, status="RUNNING", name="logged-model-backed")
    mlf.register_model_version(f"maint-{unique}-logged", mlflow_support.log_constant_model(logged_backed, score=0.5))
    mlf.set_terminated(logged_backed, status="KILLED", end_time=mlf.get_run(logged_backed).start_time + 60_000)
    running = make_run(experiment_id, status="RUNNING", name="still-running")

    plan = cleanup_plan_create(actor=personas["operator"], scope="experiment", scope_value=name)
    plan_run = wait_task(plan.plan_task_id)
    assert plan_run.state == TaskState.SUCCEEDED, plan_run.errors
    assert plan_run.report["source"] == SOURCE_STORE  # the worker has the store: the read-only fast path
    plan.refresh_from_db()
    assert plan.state == PlanState.READY
    planned = set(plan.items.filter(excluded=False).values_list("run_id", flat=True))
    assert planned == candidates | {gains_keep}
    assert len(planned) > WORKER_PAGE_SIZE  # more than one page: no cap
    exclusions = dict(plan.items.filter(excluded=True).values_list("run_id", "reason"))
    assert exclusions[keep] == "tagged keep=true"
    assert exclusions[tagged].startswith("tagged mlflow.registeredModelName")
    assert exclusions[version_backed] == "source of a registered model version"
    assert exclusions[logged_backed] == "source of a registered model version"
    assert exclusions[running].startswith("still RUNNING")
    assert finished not in planned | set(exclusions) and recent not in planned | set(exclusions)

    mlf.set_run_tag(gains_keep, "keep", "true")  # changed its mind between plan and execute
    execute = cleanup_plan_execute(actor=personas["operator"], plan_id=plan.pk, confirm=True)
    executed = wait_task(execute.pk)
    assert executed.state == TaskState.SUCCEEDED, executed.errors
    assert executed.counts["deleted"] == len(candidates) and executed.counts["skipped"] == 1
    for run_id in candidates:
        assert mlf.get_run(run_id).lifecycle_stage == "deleted"
    for run_id in (gains_keep, keep, tagged, version_backed, logged_backed, running, finished, recent):
        assert mlf.get_run(run_id).lifecycle_stage == "active", run_id
    skipped = plan.items.get(run_id=gains_keep)
    assert skipped.outcome == ItemOutcome.SKIPPED and "keep=true" in skipped.outcome_reason
    assert AuditEvent.objects.filter(action="run.delete", target_id__in=candidates).count() == len(candidates)
    plan.refresh_from_db()
    assert plan.state == PlanState.EXECUTED
    with pytest.raises(Conflict):  # executing twice deletes nothing twice
        cleanup_plan_execute(actor=personas["operator"], plan_id=plan.pk, confirm=True)


def test_team_scope_plan_streams_every_page(celery_worker, personas, mlflow, unique):  # type: ignore[no-untyped-def]
    team = Team.objects.create(name=f"t{unique}", experiment_prefix=f"/team-{unique}")
    ids = []
    for index in range(2):
        experiment_id = mlf.create_experiment(f"/team-{unique}/proj/exp{index}")
        ids += [make_run(experiment_id, status="FAILED", name=f"r{i}") for i in range(12)]
    outside = mlf.create_experiment(f"/other-{unique}/proj/exp")
    make_run(outside, status="FAILED")
    plan = cleanup_plan_create(actor=personas["admin"], scope="team", scope_value=team.name, older_than_days=30)
    assert wait_task(plan.plan_task_id).state == TaskState.SUCCEEDED
    plan.refresh_from_db()
    assert plan.candidate_count == 24
    assert set(plan.items.values_list("run_id", flat=True)) == set(ids)


def test_purge_removes_exactly_the_deleted_runs(celery_worker, personas, make_experiment, tmp_path):  # type: ignore[no-untyped-def]
    artifacts = tmp_path / "artifacts"
    experiment_id, name = make_experiment("purge", artifact_location=artifacts.as_uri())
    doomed = make_run(experiment_id, status="FAILED", name="doomed")
    kept = make_run(experiment_id, status="FAILED", tags={"keep": "true"}, name="kept")
    for run_id, size in ((doomed, 3000), (kept, 500)):
        folder = artifacts / run_id / "artifacts"
        folder.mkdir(parents=True)
        (folder / "weights.bin").write_bytes(b"x" * size)
    plan = cleanup_plan_create(actor=personas["operator"], scope="experiment", scope_value=experiment_id)
    assert wait_task(plan.plan_task_id).state == TaskState.SUCCEEDED
    plan.refresh_from_db()
    assert plan.estimated_bytes == 3000
    run = wait_task(cleanup_plan_execute(actor=personas["operator"], plan_id=plan.pk, confirm=True, purge=True).pk)
    assert run.state == TaskState.SUCCEEDED, run.errors
    purge = run.report["purge"]
    assert (purge["runs_purged"], purge["artifact_bytes_freed"], purge["hard_deleted"]) == (1, 3000, [doomed])
    with pytest.raises(mlf.MlflowNotFound):
        mlf.get_run(doomed)
    assert not (artifacts / doomed / "artifacts").exists()
    assert mlf.get_run(kept).lifecycle_stage == "active" and (artifacts / kept / "artifacts" / "weights.bin").exists()


def test_reaper_reaps_only_silent_old_runs(celery_worker, personas, make_experiment):  # type: ignore[no-untyped-def]
    experiment_id, _ = make_experiment("reaper")
    stuck = make_run(experiment_id, status="RUNNING", age_days=3, metric_age_days=3, name="stuck")
    silent = make_run(experiment_id, status="RUNNING", age_days=2, name="silent-no-metrics")
    recent = make_run(experiment_id, status="RUNNING", age_days=0.1, name="recent")
    logging_run = make_run(experiment_id, status="RUNNING", age_days=3, metric_age_days=0.01, name="still-logging")

    dry = wait_task(reaper_start(actor=personas["operator"], dry_run=True, experiment=experiment_id).pk)
    assert dry.state == TaskState.SUCCEEDED, dry.errors
    assert {r["run_id"] for r in dry.report["runs"]} == {stuck, silent}
    assert mlf.get_run(stuck).status == "RUNNING"  # a dry run changes nothing

    real = wait_task(reaper_start(actor=personas["operator"], dry_run=False, experiment=experiment_id).pk)
    assert real.counts["reaped"] == 2
    for run_id in (stuck, silent):
        reaped = mlf.get_run(run_id)
        assert reaped.status == "FAILED" and reaped.end_time
        assert reaped.tags["mlopsadmin.reaped_at"] and "no sign of life" in reaped.tags["mlopsadmin.reap_reason"]
        assert AuditEvent.objects.filter(action="run.reap", target_id=run_id).count() == 1
    assert mlf.get_run(recent).status == "RUNNING"
    assert mlf.get_run(logging_run).status == "RUNNING"


def test_capacity_measures_local_folder_and_s3(celery_worker, personas, mlflow, unique, tmp_path):  # type: ignore[no-untyped-def]
    team = Team.objects.create(name=f"c{unique}", experiment_prefix=f"/cap-{unique}")
    local_root = tmp_path / "store"
    local_id = mlf.create_experiment(f"/cap-{unique}/proj/local", artifact_location=local_root.as_uri())
    (local_root / "run1" / "artifacts").mkdir(parents=True)
    (local_root / "run1" / "artifacts" / "model.pkl").write_bytes(b"a" * 1500)
    (local_root / "run2").mkdir()
    (local_root / "run2" / "log.txt").write_bytes(b"b" * 250)
    bucket = f"cap-{unique}"
    s3.create_bucket(bucket)
    s3_id = mlf.create_experiment(f"/cap-{unique}/proj/s3", artifact_location=f"s3://{bucket}/mlruns/7")
    for index in range(1205):  # more than one list_objects_v2 page
        s3.put_object(bucket, f"mlruns/7/r{index % 3}/artifacts/f{index}.bin", b"z" * 10)
    s3.put_object(bucket, "elsewhere/ignored.bin", b"q" * 999)

    run = wait_task(capacity_check_start(actor=personas["operator"]).pk, timeout=180)
    assert run.state == TaskState.SUCCEEDED, run.errors
    sizes = {s.key: s for s in CapacitySample.objects.filter(task_run=run, scope="experiment")}
    assert sizes[local_id].size_bytes == 1750 and sizes[local_id].object_count == 2
    assert sizes[s3_id].size_bytes == 12050 and sizes[s3_id].object_count == 1205
    team_sample = CapacitySample.objects.get(task_run=run, scope="team", key=team.name)
    assert team_sample.size_bytes == 1750 + 12050
    database = CapacitySample.objects.get(task_run=run, scope="database")
    assert database.size_bytes and database.size_bytes > 0
    totals = selectors.latest_capacity_totals()
    # the demo's mlflow-artifacts: locations are unknown: the total is unknown, its measured part crosses
    assert totals is not None and totals["warning"] is True and totals["artifact_bytes"] is None
    assert totals["measured_bytes"] >= 13800
    assert AuditEvent.objects.filter(action="capacity.alert", target_id=str(run.pk)).count() == 1
    demo = mlf.get_experiment_by_name("/search-team/query-ranking/bert-finetune")
    assert sizes[demo.experiment_id].size_bytes is None  # mlflow-artifacts: without a destination: unknown


def test_one_task_of_a_kind_at_a_time(celery_worker, personas, make_experiment):  # type: ignore[no-untyped-def]
    experiment_id, _ = make_experiment("once")
    first = reaper_start(actor=personas["operator"], experiment=experiment_id)
    with pytest.raises(Conflict):
        reaper_start(actor=personas["operator"], experiment=experiment_id)
    assert wait_task(first.pk).state == TaskState.SUCCEEDED
    time.sleep(0.1)
    assert wait_task(reaper_start(actor=personas["operator"], experiment=experiment_id).pk).state == TaskState.SUCCEEDED


def test_local_tree_sizes_helper(tmp_path: Path) -> None:
    from maintenance import storage

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_bytes(b"1" * 10)
    assert storage.location_size(storage.resolve(str(tmp_path))) == (10, 1)
