"""Case 10 of issue 16: a name held by a soft-deleted experiment (mlflow/mlflow #2651). Creating or renaming
to it says which deleted experiment holds it and how to free it (restore, or a permanent delete by an
admin, audited); the admin's permanent delete frees the name (real MLflow server, its store)."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import PermissionDenied

from catalog.deleted_names import deleted_experiment_purge
from catalog.fixes import experiment_create, experiment_rename
from catalog.sync import catalog_sync
from mlopsadmin.core.errors import Conflict, RuleViolation
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf

pytestmark = pytest.mark.django_db


def test_create_and_rename_to_a_deleted_experiments_name(mlflow, personas) -> None:

    project = f"held-{uuid.uuid4().hex[:6]}"
    name = f"/search-team/{project}/sweep"
    holder = mlf.create_experiment(name)
    mlf.delete_experiment(holder)
    other = mlf.create_experiment(f"/search-team/{project}/other")
    catalog_sync(full=True)
    lead, admin = personas["lead_search"], personas["admin"]

    with pytest.raises(Conflict) as refused:
        experiment_create(actor=lead, team="search", project=project, experiment_type="sweep")
    message = str(refused.value)
    assert f"deleted experiment {holder}" in message and "restore" in message.lower()
    assert "permanently" in message and "admin" in message
    with pytest.raises(Conflict) as refused:
        experiment_rename(actor=lead, experiment_id=other, new_name=name)
    assert f"deleted experiment {holder}" in str(refused.value)

    with pytest.raises(PermissionDenied):
        deleted_experiment_purge(actor=lead, experiment_id=holder, reason="free the name")
    deleted_experiment_purge(actor=admin, experiment_id=holder, reason="free the name")
    assert mlf.get_experiment_by_name(name) is None
    event = AuditEvent.objects.get(action="experiment.purge", target_id=holder)
    assert event.actor_name == "admin" and event.before["name"] == name and event.reason == "free the name"

    experiment_rename(actor=lead, experiment_id=other, new_name=name)
    assert mlf.get_experiment(other).name == name


def test_purge_refuses_a_deleted_experiment_whose_runs_back_model_versions(mlflow, personas) -> None:
    """The permanent delete that frees a name must not destroy the run behind a registered version (here
    @champion's): it refuses, names the versions, and MLflow keeps the experiment and the run."""
    project = f"held-{uuid.uuid4().hex[:6]}"
    holder = mlf.create_experiment(f"/search-team/{project}/sweep")
    run_id = mlf.create_run(holder)
    mlf.set_terminated(run_id)
    model = f"search-held-{uuid.uuid4().hex[:8]}"
    mlf.create_registered_model(model)
    mlf.create_model_version(model, source=f"runs:/{run_id}/model", run_id=run_id)
    mlf.set_model_alias(model, "champion", "1")
    mlf.delete_experiment(holder)

    with pytest.raises(RuleViolation) as refused:
        deleted_experiment_purge(actor=personas["admin"], experiment_id=holder, reason="free the name")
    message = str(refused.value)
    assert f"{model} v1" in message and run_id in message, message
    assert mlf.get_run(run_id).run_id == run_id
    assert mlf.get_experiment(holder).is_deleted
    assert not AuditEvent.objects.filter(action="experiment.purge", target_id=holder, outcome="ok").exists()
