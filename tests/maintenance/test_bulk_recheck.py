"""Issue 20, attacked as a user would: what changes between a bulk action's listing (or plan) and its writes
must be seen by the chunk's re-check. Real MLflow server (session fixture); the change is made by another
client right before the chunk is read again."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from maintenance import reap_chunk
from maintenance.models import TaskRun, TaskState
from maintenance.reaper import REAPED_TAG, reaper_start
from maintenance.tasks import task_run_execute
from mlopsadmin.audit.services import audit_verify_chain
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from tests.maintenance.conftest import DAY_MS, make_run

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.mark.parametrize("through", ["api", "store"])
def test_reaper_leaves_running_a_run_that_logged_a_lower_step_after_the_listing(  # type: ignore[no-untyped-def]
    personas, make_experiment, settings, mlflow, monkeypatch, through
) -> None:
    """A resumed script logs `loss` at step 1 again (below the step-10 value MLflow keeps as "latest") after
    the reaper listed and confirmed its run as stuck, before the run's chunk is written: the chunk's re-check
    must see that sign of life (the newest value of any metric, not the latest-step one), so the run stays
    RUNNING with no run.reap event; the truly stuck run next to it is reaped."""
    settings.MAINTENANCE_WRITE_STORE = through == "store"
    experiment_id, _ = make_experiment(f"reap-lower-step-{through}")
    old = int(time.time() * 1000) - 3 * DAY_MS
    resumed = make_run(experiment_id, status="RUNNING", age_days=3, name="resumed")
    mlf.log_batch(resumed, metrics=[("loss", 0.1, old, 10)])
    stuck = make_run(experiment_id, status="RUNNING", age_days=3, name="stuck")
    reads = reap_chunk.read_chunk
    logged: list[str] = []

    def log_then_read(*args: Any, **kwargs: Any) -> dict[str, mlf.Run]:
        if not logged:  # the script comes back to life after the listing, before the chunk's writes
            mlf.log_batch(resumed, metrics=[("loss", 0.9, int(time.time() * 1000), 1)])
            logged.append(resumed)
        return reads(*args, **kwargs)

    monkeypatch.setattr(reap_chunk, "read_chunk", log_then_read)
    started = reaper_start(actor=personas["operator"], dry_run=False, threshold_hours=24, experiment=experiment_id)
    assert task_run_execute(task_run_id=started.pk) == "done"
    task = TaskRun.objects.get(pk=started.pk)
    assert logged and task.state == TaskState.SUCCEEDED, task.errors
    assert mlf.get_run(resumed).status == "RUNNING"
    assert REAPED_TAG not in mlf.get_run(resumed).tags
    assert (mlf.get_run(stuck).status, task.counts["reaped"], task.counts["changed"]) == ("FAILED", 1, 1)
    events = list(
        AuditEvent.objects.filter(action="run.reap", target_id__in=[resumed, stuck]).values_list("target_id", flat=True)
    )
    assert events == [stuck]
    assert audit_verify_chain().ok


def test_purge_keeps_a_deleted_run_that_came_to_back_a_model_version_after_the_execute(  # type: ignore[no-untyped-def]
    personas, make_experiment, settings, mlflow, monkeypatch, tmp_path
) -> None:
    """Between the execute's deletes and the purge (an hour on a large plan), someone registers a model version
    from a deleted run's artifacts by path. The purge must not destroy what a registered version
    now points to: that run and its files are kept and the report says why; the other planned run is purged,
    with its one run.purge event."""
    from maintenance.cleanup import execute as execute_module
    from maintenance.cleanup.execute import cleanup_plan_execute
    from maintenance.cleanup.plan import cleanup_plan_create

    assert settings.MLFLOW_BACKEND_STORE_URI
    artifacts = tmp_path / "artifacts"
    experiment_id, name = make_experiment("purge-backs", artifact_location=artifacts.as_uri())
    backing, plain = (make_run(experiment_id, status="FAILED", name=n) for n in ("backing", "plain"))
    for run_id in (backing, plain):
        folder = artifacts / run_id / "artifacts" / "model"
        folder.mkdir(parents=True)
        (folder / "weights.bin").write_bytes(b"x" * 500)
    plan = cleanup_plan_create(actor=personas["operator"], scope="experiment", scope_value=name)
    assert task_run_execute(task_run_id=plan.plan_task_id) == "done"
    chunks = execute_module.execute_chunks

    def execute_then_register(*args: Any, **kwargs: Any) -> None:
        chunks(*args, **kwargs)
        model = f"purge-backs-{backing[:8]}"
        mlf.create_registered_model(model)
        mlf.create_model_version(model, source=(artifacts / backing / "artifacts" / "model").as_uri(), run_id=backing)

    monkeypatch.setattr(execute_module, "execute_chunks", execute_then_register)
    started = cleanup_plan_execute(actor=personas["operator"], plan_id=plan.pk, confirm=True, purge=True)
    assert task_run_execute(task_run_id=started.pk) == "done"
    task = TaskRun.objects.get(pk=started.pk)
    assert mlf.get_run(backing).lifecycle_stage == "deleted"  # soft-deleted by the plan, still restorable
    assert (artifacts / backing / "artifacts" / "model" / "weights.bin").exists()
    with pytest.raises(mlf.MlflowNotFound):
        mlf.get_run(plain)
    assert task.report["purge"]["hard_deleted"] == [plain]
    assert any(backing in error and "registered model version" in error for error in task.errors), task.errors
    purged = list(AuditEvent.objects.filter(action="run.purge").values_list("target_id", flat=True))
    assert purged == [plain]
    assert audit_verify_chain().ok


@pytest.mark.parametrize("failure", ["timeout", "refused"])
def test_a_reaped_run_whose_tag_write_failed_still_has_its_one_run_reap_event(  # type: ignore[no-untyped-def]
    personas, make_experiment, settings, mlflow, monkeypatch, failure
) -> None:
    """Over REST a reap is two writes: `set_terminated`, then the reaper's tags. When the first lands and the
    second times out (or is refused) for one run, that run is ended all the same: MLflow shows it FAILED at its
    last sign of life, so the audit log must have its one run.reap event (the next pass no longer lists it:
    it would never get one). MLflow and the log agree for every run of the chunk."""
    from mlopsadmin.lib import mlflow_tracking

    settings.MAINTENANCE_WRITE_STORE = False
    experiment_id, _ = make_experiment(f"reap-tags-{failure}")
    runs = [make_run(experiment_id, status="RUNNING", age_days=3, name=f"stuck-{i}") for i in range(3)]
    log_batch = mlflow_tracking.log_batch
    refused: list[str] = []

    def flaky(run_id: str, **kwargs: Any) -> None:
        if REAPED_TAG in (kwargs.get("tags") or {}) and run_id == runs[1] and not refused:
            refused.append(run_id)
            if failure == "timeout":
                raise mlf.MlflowUnavailable("log_batch: read timed out", operation="log_batch")
            raise mlf.MlflowError("log_batch: INTERNAL_ERROR: database is locked", operation="log_batch")
        log_batch(run_id, **kwargs)

    monkeypatch.setattr(mlflow_tracking, "log_batch", flaky)
    started = reaper_start(actor=personas["operator"], dry_run=False, threshold_hours=24, experiment=experiment_id)
    task_run_execute(task_run_id=started.pk)
    assert refused == [runs[1]]
    events = Counter(
        AuditEvent.objects.filter(action="run.reap", target_id__in=runs).values_list("target_id", flat=True)
    )
    for run_id in runs:
        ended = mlf.get_run(run_id).status == "FAILED"
        assert (ended, events[run_id]) in ((True, 1), (False, 0)), (run_id, ended, events[run_id])
    assert audit_verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_a_purge_interrupted_before_its_audit_write_gets_one_run_purge_event_per_run_on_resume(  # type: ignore[no-untyped-def]
    personas, make_experiment, settings, mlflow, monkeypatch, tmp_path
) -> None:
    """The worker dies after the purge hard-deleted the plan's runs and before their run.purge events were
    written. After the sweep marks the task interrupted and an operator resumes it, every run the store no
    longer holds has exactly one run.purge event (the resumed purge finds them gone: it must not count them
    purged with no event), and the chain verifies."""
    from datetime import timedelta

    from django.utils import timezone

    from maintenance import task_runs
    from maintenance.cleanup import execute as execute_module
    from maintenance.cleanup.execute import cleanup_plan_execute
    from maintenance.cleanup.plan import cleanup_plan_create
    from maintenance.cleanup.resume import cleanup_plan_resume

    assert settings.MLFLOW_BACKEND_STORE_URI
    experiment_id, name = make_experiment("purge-killed", artifact_location=(tmp_path / "a").as_uri())
    runs = [make_run(experiment_id, status="FAILED", name=f"old-{i}") for i in range(3)]
    plan = cleanup_plan_create(actor=personas["operator"], scope="experiment", scope_value=name)
    assert task_run_execute(task_run_id=plan.plan_task_id) == "done"

    def killed(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("worker killed between the hard deletes and their audit events")

    monkeypatch.setattr(execute_module, "_audit_purged", killed)
    started = cleanup_plan_execute(actor=personas["operator"], plan_id=plan.pk, confirm=True, purge=True)
    with pytest.raises(SystemExit):
        task_run_execute(task_run_id=started.pk)
    monkeypatch.undo()
    for run_id in runs:
        with pytest.raises(mlf.MlflowNotFound):
            mlf.get_run(run_id)
    TaskRun.objects.filter(pk=started.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert task_runs.task_runs_sweep_stale() == 1
    cleanup_plan_resume(actor=personas["operator"], plan_id=plan.pk, confirm=True)
    assert task_run_execute(task_run_id=started.pk) == "done"
    events = Counter(AuditEvent.objects.filter(action="run.purge").values_list("target_id", flat=True))
    assert events == Counter(runs)
    assert audit_verify_chain().ok


@pytest.mark.parametrize("through", ["api", "store"])
@pytest.mark.parametrize("n", [0, 4, 5, 6, 11])
def test_through_the_api_a_plan_at_chunk_boundaries_deletes_exactly_its_runs_one_event_each(  # type: ignore[no-untyped-def]
    personas, make_experiment, settings, mlflow, n, through
) -> None:
    """A user plans and executes through the JSON API with MAINTENANCE_BULK_CHUNK=5 (as 199/200/201 with the
    default 200), in an experiment with a long unicode name: exactly the planned runs are deleted, each with
    one run.delete event, in item order; a plan of 0 runs executes to nothing; the chain verifies."""
    from django.test import Client

    from maintenance.models import PlanItem
    from mlopsadmin.core.services import api_token_create

    settings.MAINTENANCE_WRITE_STORE = through == "store"
    settings.MAINTENANCE_BULK_CHUNK, settings.MAINTENANCE_WRITE_WORKERS = 5, 3
    experiment_id, name = make_experiment(f"{through}-{n}-Ünïcødé-実験-" + "é" * 120)
    runs = [make_run(experiment_id, status="FAILED", name=f"r-{i}-ß") for i in range(n)]
    make_run(experiment_id, status="FAILED", age_days=1, name="recent")  # not old enough: not planned
    _, raw = api_token_create(actor=personas["operator"], user=personas["operator"], name="ci")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    made = api.post(
        "/api/v1/maintenance/cleanup-plans",
        {"scope": "experiment", "scope_value": name},
        content_type="application/json",
    )
    assert made.status_code == 202, made.content
    plan_id = made.json()["id"]
    assert task_run_execute(task_run_id=made.json()["plan_task_id"]) == "done"
    executed = api.post(
        f"/api/v1/maintenance/cleanup-plans/{plan_id}/execute", {"confirm": True}, content_type="application/json"
    )
    assert executed.status_code == 202, executed.content
    assert task_run_execute(task_run_id=executed.json()["id"]) == "done"
    task = TaskRun.objects.get(pk=executed.json()["id"])
    assert task.state == TaskState.SUCCEEDED and task.counts == {"deleted": n, "skipped": 0, "failed": 0}
    deleted = {r.run_id for r in mlf.iter_runs([experiment_id], include_deleted=True) if r.lifecycle_stage == "deleted"}
    assert deleted == set(runs)
    order = list(
        PlanItem.objects.filter(plan_id=plan_id, excluded=False).order_by("pk").values_list("run_id", flat=True)
    )
    events = list(
        AuditEvent.objects.filter(action="run.delete", target_id__in=[*runs, "x"])
        .order_by("id")
        .values_list("target_id", flat=True)
    )
    assert events == order and sorted(order) == sorted(runs)
    assert api.get(f"/api/v1/maintenance/cleanup-plans/{plan_id}").json()["state"] in ("executed", "Executed")
    assert audit_verify_chain().ok


def test_a_chunk_marked_but_never_sent_is_not_recorded_as_deleted_by_the_plan_when_its_owner_deletes_a_run(  # type: ignore[no-untyped-def]
    personas, make_experiment, settings, mlflow, monkeypatch
) -> None:
    """Over REST the next chunk is marked "delete sent" while this chunk's deletes are in flight. One of this
    chunk's deletes times out (its outcome unknown), so the task stops before the next chunk's deletes are
    sent. Its owner then deletes one of that next chunk's runs in the MLflow UI. When the plan is executed
    again, that run is "already deleted" (skipped, no run.delete event): the plan never sent its delete, so it
    must not be recorded as "deleted by plan … (recovered on resume)" with an event in the plan's name."""
    from maintenance.cleanup.execute import cleanup_plan_execute
    from maintenance.cleanup.plan import cleanup_plan_create
    from maintenance.models import ItemOutcome, PlanItem
    from mlopsadmin.lib import mlflow_tracking

    settings.MAINTENANCE_WRITE_STORE = False
    settings.MAINTENANCE_BULK_CHUNK, settings.MAINTENANCE_WRITE_WORKERS = 5, 2
    experiment_id, name = make_experiment("never-sent")
    runs = [make_run(experiment_id, status="FAILED", name=f"old-{i}") for i in range(10)]
    plan = cleanup_plan_create(actor=personas["operator"], scope="experiment", scope_value=name)
    assert task_run_execute(task_run_id=plan.plan_task_id) == "done"
    items = list(PlanItem.objects.filter(plan=plan, excluded=False).order_by("pk").values_list("run_id", flat=True))
    first, second = items[:5], items[5:]
    delete_run = mlflow_tracking.delete_run

    def times_out(run_id: str) -> None:
        if run_id == first[0]:
            raise mlf.MlflowUnavailable("delete_run: read timed out", operation="delete_run")
        delete_run(run_id)

    monkeypatch.setattr(mlflow_tracking, "delete_run", times_out)
    started = cleanup_plan_execute(actor=personas["operator"], plan_id=plan.pk, confirm=True)
    task_run_execute(task_run_id=started.pk)
    monkeypatch.undo()
    owner_deleted = second[0]
    assert mlf.get_run(owner_deleted).lifecycle_stage == "active"  # the plan never sent it
    mlf.delete_run(owner_deleted)  # its owner, in the MLflow UI
    again = cleanup_plan_execute(actor=personas["operator"], plan_id=plan.pk, confirm=True)
    assert task_run_execute(task_run_id=again.pk) == "done"
    item = PlanItem.objects.get(plan=plan, run_id=owner_deleted)
    assert (item.outcome, item.outcome_reason) == (ItemOutcome.SKIPPED, "already deleted")
    events = Counter(
        AuditEvent.objects.filter(action="run.delete", target_id__in=runs).values_list("target_id", flat=True)
    )
    assert events == Counter([r for r in items if r != owner_deleted])
    assert audit_verify_chain().ok
