"""Issue 16 break-test, case 5: a model name is checked by one rule wherever it is entered (config file,
manage.py model_owner, the admin, the API), and that rule is what MLflow's registry accepts: every name
refused here is refused by the real MLflow server, every name accepted here MLflow accepts."""

from __future__ import annotations

import uuid

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from configuration.files import ConfigInvalid
from configuration.ownership import model_owner_set
from configuration.services import config_apply
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.core.models import ModelOwnership
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import validation

pytestmark = pytest.mark.django_db

REFUSED = ["a/b", "a:b", ".", "..", "..hidden", "/lead", " ", ""]
ACCEPTED = ["a'b", "a b", "tab\tname", ".hidden", "a..b", "ünï-cødé", "50%_off"]


@pytest.mark.parametrize("name", REFUSED + ACCEPTED)
def test_the_rule_is_mlflows_own(mlflow: str, name: str) -> None:
    unique = (
        name if name.strip() in ("", ".", "..") or name.startswith(("..", "/")) else f"{name}-{uuid.uuid4().hex[:6]}"
    )
    try:
        mlf.create_registered_model(unique)
        mlflow_accepts = True
    except mlf.MlflowError:
        mlflow_accepts = False
    try:
        validation.model_name(unique)
        ours = True
    except InvalidInput:
        ours = False
    assert ours == mlflow_accepts == (name in ACCEPTED), (name, ours, mlflow_accepts)


@pytest.mark.parametrize("name", ["a/b", "a:b", "..x"])
def test_model_owner_command_refuses_a_name_mlflow_refuses(personas, name: str) -> None:
    with pytest.raises(CommandError, match="Not a valid registered model name"):
        call_command("model_owner", name, "--team", "search")
    with pytest.raises(CommandError, match="Not a valid registered model name"):
        call_command("model_owner", name)  # explaining one too
    with pytest.raises(InvalidInput):
        model_owner_set(actor="system:cli", model_name=name, team_name="search")
    assert not ModelOwnership.objects.filter(model_name=name).exists()


def test_api_refuses_a_name_mlflow_refuses(personas, api) -> None:
    response = api("admin").post(
        "/api/v1/ownership", {"model_name": "a/b", "team": "search"}, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert "Not a valid registered model name" in response.json()["detail"]
    assert not ModelOwnership.objects.filter(model_name="a/b").exists()
    explained = api("admin").get("/api/v1/ownership", {"model_name": "a:b"})
    assert explained.status_code == 400, explained.content


def test_admin_form_refuses_a_name_mlflow_refuses(personas) -> None:
    client = Client()
    client.force_login(personas["admin"])  # type: ignore[arg-type]
    from mlopsadmin.core.models import Team

    team = Team.objects.get(name="search")
    response = client.post("/admin/core/modelownership/add/", {"model_name": "a:b", "team": team.pk})
    assert response.status_code == 200  # the form again, with the error inline
    assert "Not a valid registered model name" in response.content.decode()
    assert not ModelOwnership.objects.filter(model_name="a:b").exists()


def test_config_file_refuses_names_mlflow_refuses(personas) -> None:
    text = """\
version = 1

[teams.search]
experiment_prefix = "/search-team"
models = ["search/ranker", "ok-model"]

[gate.models."fraud:scorer"]
threshold = 0.5
"""
    with pytest.raises(ConfigInvalid) as info:
        config_apply(actor="tester", text=text, source="names.toml", dry_run=True)
    messages = " ".join(p.message for p in info.value.problems)
    assert "'search/ranker'" in messages and "'fraud:scorer'" in messages, messages
    assert "'ok-model'" not in messages
