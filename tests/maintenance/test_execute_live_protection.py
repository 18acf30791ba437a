"""Issue 15, case 2 under concurrency: a long cleanup execute (25,000 runs take most of an hour) re-checks
each run just before deleting it. A version registered meanwhile BY PATH (empty run_id: the MLflow UI, a
copied path) must protect its run like one registered with a run_id; the re-check only asked MLflow for
versions naming the run_id, so the run was deleted under the new version (real MLflow server)."""

from __future__ import annotations

from typing import Any

import pytest

from maintenance import task_runs
from maintenance.cleanup.execute import cleanup_plan_run
from maintenance.models import ItemOutcome
from mlopsadmin.lib import mlflow_client as mlf
from tests.maintenance.conftest import make_run
from tests.maintenance.test_paused_worker import _executing_plan


@pytest.mark.django_db(transaction=True)
def test_a_version_registered_by_path_during_execute_protects_its_run(  # type: ignore[no-untyped-def]
    personas, make_experiment, unique, monkeypatch, settings
) -> None:
    experiment_id, _ = make_experiment("live", artifact_location=f"s3://bucket-{unique}/exp")
    first, by_path, copied = (make_run(experiment_id, status="FAILED", name=n) for n in ("a", "b", "c"))
    plan, task = _executing_plan([first, by_path, copied], experiment_id)
    claimed = task_runs.task_run_claim(task_run_id=task.pk)
    assert claimed is not None
    model, origin = f"live-{unique}", f"live-origin-{unique}"
    mlf.create_registered_model(model)
    mlf.create_registered_model(origin)
    real_delete = mlf.delete_runs

    def delete_while_someone_registers(run_ids: list[str], **kwargs: Any) -> Any:
        done = real_delete(run_ids, **kwargs)
        if first in run_ids:  # the execute is under way: two versions appear in the MLflow UI meanwhile
            mlf.create_model_version(model, source=mlf.get_run(by_path).artifact_uri + "/model")
            source = mlf.create_model_version(origin, source=mlf.get_run(copied).artifact_uri + "/model")
            mlf.create_model_version(model, source=f"models:/{origin}/{source.version}")
            mlf.delete_model_version(origin, source.version)  # only the copy remains
        return done

    settings.MAINTENANCE_BULK_CHUNK = 1  # the two other runs are re-checked in later chunks
    monkeypatch.setattr(mlf, "delete_runs", delete_while_someone_registers)
    cleanup_plan_run(claimed)
    outcomes = dict(plan.items.values_list("run_id", "outcome"))
    assert outcomes == {first: ItemOutcome.DELETED, by_path: ItemOutcome.SKIPPED, copied: ItemOutcome.SKIPPED}
    assert mlf.get_run(by_path).lifecycle_stage == "active"
    assert mlf.get_run(copied).lifecycle_stage == "active"
    reason = plan.items.get(run_id=by_path).outcome_reason
    assert reason == "source of a registered model version (changed since planning)"
