"""A model deleted in MLflow and created again under the same name, outside mlopsadmin, with no alias history
known yet (never promoted nor reconciled here): its new v1 is not the deleted model's v1. The registry index
holds the deleted model's creation time, so whichever path reads the new one first (the sync, a webhook, a
first view, a promotion) tells them apart: the deleted model's approvals are voided, the pages never show the
new v1 as approved by them, and the gate never counts them (issue 20 break-test)."""

from __future__ import annotations

import re
import time

import pytest

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.approvals import services as approvals
from registry_ui.approvals.selectors import version_is_approved
from registry_ui.index_sync import registry_sync
from registry_ui.promotion import services as promotion
from registry_ui.promotion.models import GatePolicy
from tests.registry.conftest import OwnModel, make_model
from tests.registry.test_index import _row, _text

pytestmark = pytest.mark.django_db


def _approval(page: str, version: str) -> str:
    """The approval cell of a version's row on the model page."""
    found = re.search(r'<td class="approval">(.*?)</td>', _row(page, version))
    assert found, "no approval cell"
    return found.group(1)


def _approved_then_recreated(personas, client) -> OwnModel:  # type: ignore[no-untyped-def]
    own = make_model(scores=(0.80,), champion=None)
    assert "v1" in _text(client.get(f"/registry/models/{own.name}/"))  # indexed, with its creation time
    request = approvals.approval_request_create(actor=personas["member_search"], model_name=own.name, version="1")
    approvals.approval_request_decide(actor=personas["lead_search"], request_id=request.pk, approve=True)
    assert "approved by lead_search" in _approval(_text(client.get(f"/registry/models/{own.name}/")), "1")
    mlf.delete_registered_model(own.name)
    time.sleep(0.01)  # creation_timestamp is in milliseconds
    mlf.create_registered_model(own.name)
    run_id = mlf.create_run(own.experiment_id, run_name="never-approved")
    mlf.log_batch(run_id, metrics=[("val_ndcg_at_10", 0.9, 0, 0)])
    mlf.set_terminated(run_id)
    mlf.create_model_version(own.name, source=f"runs:/{run_id}/model", run_id=run_id)
    GatePolicy.objects.create(model_name=own.name, require_approval=True, max_drop_pct=5.0, threshold=0.5)
    return own


def test_a_sync_that_sees_a_recreated_model_voids_the_deleted_models_approvals(mlflow, login, personas) -> None:
    client = login("outsider")
    own = _approved_then_recreated(personas, client)
    registry_sync(full=False)
    model_page = _text(client.get(f"/registry/models/{own.name}/"))
    assert "never-approved" in _row(model_page, "1") and "approved" not in _approval(model_page, "1")
    assert "The version is approved" not in _text(client.get(f"/registry/models/{own.name}/versions/1/"))
    assert not version_is_approved(model_name=own.name, version="1")
    assert AuditEvent.objects.filter(action="model.recreated", target_id=own.name).count() == 1
    registry_sync(full=True)  # seen once: not recorded again
    assert AuditEvent.objects.filter(action="model.recreated", target_id=own.name).count() == 1


def test_a_promotion_before_any_sync_does_not_count_the_deleted_models_approval(mlflow, login, personas) -> None:
    own = _approved_then_recreated(personas, login("outsider"))
    with pytest.raises(promotion.GateFailed) as refused:
        promotion.alias_promote(model_name=own.name, version="1", actor=personas["lead_search"])
    assert "approval" in [rule.rule for rule in refused.value.gate.failures]
