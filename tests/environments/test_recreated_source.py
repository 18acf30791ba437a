"""Issue 22 x issue 16 case 7: an approval to copy into an environment belongs to the version it was given
for. A source model deleted and registered again in its environment numbers its versions from 1 again: the
new v1 (another run) must not ride on the approval the deleted model's v1 received."""

from __future__ import annotations

import uuid

import pytest
from django.test import override_settings

from mlopsadmin.lib.mlflow_connection import client
from registry_ui.approvals.services import approval_request_approve
from registry_ui.environments import services
from registry_ui.environments.approvals import environment_approval_request

from .helpers import configure, make_version, versions_on

pytestmark = pytest.mark.django_db


def test_an_approval_for_a_deleted_source_models_version_does_not_approve_the_new_one(  # type: ignore[no-untyped-def]
    dev_mlflow, mlflow, personas
) -> None:
    configure(
        {
            "dev": {"kind": "server", "tracking_uri": dev_mlflow.url, "next": "prod"},
            "prod": {"kind": "prefix", "prefix": "prod.", "require_approval": True},
        }
    )
    base = f"search-again-{uuid.uuid4().hex[:8]}"
    first = make_version(dev_mlflow.url, base, score=0.1)
    request = environment_approval_request(actor=personas["lead_search"], source_env="dev", model=base, version=first)
    approval_request_approve(actor=personas["lead_search_2"], request_id=request.id)
    with override_settings(MLFLOW_TRACKING_URI=dev_mlflow.url):
        client().delete_registered_model(base)
    again = make_version(dev_mlflow.url, base, score=0.9)  # another run, numbered v1 again
    assert again == first

    with pytest.raises(services.GateFailed) as refused:
        services.promote_to_next(actor=personas["admin"], source_env="dev", model=base, version=again)
    assert any("approv" in reason for reason in refused.value.extra["reasons"])
    assert versions_on(mlflow, f"prod.{base}") == []
    assert "registered again" in " ".join(refused.value.extra["reasons"])

    # the way out: a new approval for the new v1, then the copy goes through
    renewed = environment_approval_request(actor=personas["lead_search"], source_env="dev", model=base, version=again)
    approval_request_approve(actor=personas["lead_search_2"], request_id=renewed.id)
    copied = services.promote_to_next(actor=personas["admin"], source_env="dev", model=base, version=again)
    assert (copied.target_model, copied.target_version) == (f"prod.{base}", "1")
