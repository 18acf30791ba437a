"""Issue 15, case 2: a run behind a model version is protected whatever the version's source form (the one
rule in maintenance/cleanup/protection.py, read through the tracking API and from the backend store)."""

from __future__ import annotations

import os

import pytest

from maintenance.cleanup.protection import protected_run_ids
from mlopsadmin.lib import mlflow_client as mlf
from tests.maintenance.conftest import make_run

pytestmark = [pytest.mark.django_db]


def test_every_version_source_form_protects_its_run(mlflow, make_experiment, unique):  # type: ignore[no-untyped-def]
    """Path/URI sources with an empty run_id (the server accepts them for remote stores such as s3) and
    versions copied from other versions (models:/<name>/<version>, models:/<name>@<alias>)."""
    experiment_id, _ = make_experiment("sources", artifact_location=f"s3://bucket-{unique}/exp")
    forms = ("s3", "s3-trailing", "copied", "alias", "plain")
    runs = {form: make_run(experiment_id, status="FINISHED", name=form) for form in forms}
    artifact = {form: mlf.get_run(run_id).artifact_uri for form, run_id in runs.items()}
    model, other = f"protect-{unique}", f"protect-origin-{unique}"
    mlf.create_registered_model(model)
    mlf.create_registered_model(other)
    mlf.create_model_version(model, source=artifact["s3"] + "/model")  # registered by path, no run_id
    mlf.create_model_version(model, source=artifact["s3-trailing"] + "/")
    origin = mlf.create_model_version(other, source=f"runs:/{runs['copied']}/model", run_id=runs["copied"])
    mlf.create_model_version(model, source=f"models:/{other}/{origin.version}")  # copied, no run_id
    aliased = mlf.create_model_version(other, source=f"runs:/{runs['alias']}/model", run_id=runs["alias"])
    mlf.set_model_alias(other, "champion", aliased.version)
    mlf.create_model_version(model, source=f"models:/{other}@champion")
    expected = {runs[form] for form in ("s3", "s3-trailing", "copied", "alias")}
    for store_uri in ("", os.environ["MLOPSADMIN_TEST_MLFLOW_STORE"]):
        protected = protected_run_ids(store_uri=store_uri)
        assert expected <= protected, store_uri or "tracking API"
        assert runs["plain"] not in protected


def test_a_copy_protects_its_files_run_after_the_origin_is_gone(mlflow, make_experiment, unique):  # type: ignore[no-untyped-def]
    """`mlflow.register_model("models:/dev/1", "prod")` of a version registered by path (empty run_id): the
    copy's run_id is empty too and its files stay under the origin's run. When the origin version is deleted
    (or the alias the copy was made from moves and its old target is deleted), the run must stay protected."""
    experiment_id, _ = make_experiment("copies", artifact_location=f"s3://bucket-{unique}/exp")
    runs = {form: make_run(experiment_id, status="FINISHED", name=form) for form in ("copied", "aliased", "later")}
    dev, prod = f"dev-{unique}", f"prod-{unique}"
    mlf.create_registered_model(dev)
    mlf.create_registered_model(prod)
    origin = mlf.create_model_version(dev, source=mlf.get_run(runs["copied"]).artifact_uri + "/model")
    copy = mlf.create_model_version(prod, source=f"models:/{dev}/{origin.version}")
    aliased = mlf.create_model_version(dev, source=mlf.get_run(runs["aliased"]).artifact_uri + "/model")
    mlf.set_model_alias(dev, "champion", aliased.version)
    mlf.create_model_version(prod, source=f"models:/{dev}@champion")
    later = mlf.create_model_version(dev, source=f"runs:/{runs['later']}/model", run_id=runs["later"])
    mlf.set_model_alias(dev, "champion", later.version)  # the alias moves on
    mlf.delete_model_version(dev, origin.version)  # dev's old versions are cleaned up
    mlf.delete_model_version(dev, aliased.version)
    assert not mlf.get_model_version(prod, copy.version).run_id  # nothing but the copy's files names the run
    for store_uri in ("", os.environ["MLOPSADMIN_TEST_MLFLOW_STORE"]):
        protected = protected_run_ids(store_uri=store_uri)
        assert {runs["copied"], runs["aliased"], runs["later"]} <= protected, store_uri or "tracking API"
