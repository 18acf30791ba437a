"""Issue 16 break-test, case 1: a registered model deleted in MLflow and re-created under the same name is a
new model. Its alias history starts again (the deletion/re-creation recorded once, then a new baseline),
whichever path notices it first: the reconcile task, the install baseline, an alias change, the webhook."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.core.management import call_command
from django.urls import reverse

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.promotion import selectors, services, webhooks
from registry_ui.promotion.models import AliasEvent
from registry_ui.promotion.tiles import alias_moves_tile

pytestmark = pytest.mark.django_db

SCORES = [{"val_ndcg_at_10": 0.8}, {"val_ndcg_at_10": 0.9}]


def _recreate(name: str, run_ids: list[str], champion: int | None) -> None:
    """Delete the model in MLflow and create it again under the same name, with new versions."""
    mlf.delete_registered_model(name)
    time.sleep(0.01)  # creation_timestamp is in milliseconds
    mlf.create_registered_model(name)
    for run_id in run_ids:
        mlf.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id)
    if champion is not None:
        mlf.set_model_alias(name, "champion", champion)


def _known_model(make_model) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    made = make_model(SCORES, aliases={"champion": 1})
    assert services.alias_reconcile(model_name=made.name).baselines == 1
    return made.name, made.run_ids


def _assert_new_history(name: str, champion: str) -> None:
    events = AliasEvent.objects.filter(model_name=name)
    carried = [str(e) for e in events.filter(source=AliasEvent.SOURCE_EXTERNAL, from_version="1")]
    assert not carried, carried  # never "external 1 → 2" against the deleted model's history
    assert events.filter(action="recreated").count() == 1
    history = selectors.alias_history(name)
    assert history[-1].action == "recreated", [str(e) for e in history]  # the new history starts there
    assert [e.to_version for e in history if e.alias == "champion"] == [champion]


def test_reconcile_task_starts_a_new_history_for_a_recreated_model(make_model, personas) -> None:
    name, run_ids = _known_model(make_model)
    _recreate(name, run_ids, champion=2)

    services.alias_reconcile(model_name=name)
    services.alias_reconcile(model_name=name)  # recorded once

    _assert_new_history(name, "2")
    event = AuditEvent.objects.get(action="model.recreated", target_id=name)
    assert event.before["aliases"] == {"champion": "1"} and event.after["created"] != event.before["created"]
    tile = alias_moves_tile(personas["admin"])[0]
    assert f"{name}: deleted and re-created in MLflow" in tile.items, tile.items


def test_install_baseline_notices_a_recreated_model_with_the_same_aliases(make_model) -> None:
    name, run_ids = _known_model(make_model)
    _recreate(name, run_ids, champion=1)  # same alias state as before: only the creation time tells

    call_command("alias_baseline")

    _assert_new_history(name, "1")


def test_an_alias_change_notices_a_recreated_model_first(make_model, personas) -> None:
    name, run_ids = _known_model(make_model)
    _recreate(name, run_ids, champion=2)

    services.alias_make_challenger(model_name=name, version="1", actor=personas["lead_search"])

    _assert_new_history(name, "2")
    assert AliasEvent.objects.filter(model_name=name, alias="challenger", to_version="1").count() == 1


def test_webhook_of_a_recreated_model_records_its_first_alias_as_new(make_model, client, settings) -> None:
    settings.MLFLOW_WEBHOOK_SECRET = secret = "s3cret-for-tests"
    name, run_ids = _known_model(make_model)
    _recreate(name, run_ids, champion=2)
    body = json.dumps(
        {
            "entity": "model_version_alias",
            "action": "created",
            "data": {"name": name, "alias": "champion", "version": "2"},
        }
    )
    delivery, stamp = str(uuid.uuid4()), str(int(time.time()))
    response = client.post(
        reverse("promotion:webhook"),
        data=body,
        content_type="application/json",
        HTTP_X_MLFLOW_SIGNATURE=webhooks.sign(secret, delivery, stamp, body),
        HTTP_X_MLFLOW_TIMESTAMP=stamp,
        HTTP_X_MLFLOW_DELIVERY_ID=delivery,
    )
    assert response.status_code == 202, response.content

    _assert_new_history(name, "2")
    first = AliasEvent.objects.get(model_name=name, alias="champion", source=AliasEvent.SOURCE_EXTERNAL)
    assert (first.from_version, first.to_version) == ("", "2")  # the first alias set of the new model


def test_approvals_of_a_deleted_model_do_not_approve_the_recreated_models_versions(make_model, personas) -> None:
    from registry_ui.approvals import services as approvals
    from registry_ui.approvals.selectors import version_is_approved
    from registry_ui.promotion.models import GatePolicy

    name, run_ids = _known_model(make_model)
    GatePolicy.objects.filter(model_name=name).update(require_approval=True)
    request = approvals.approval_request_create(actor=personas["lead_search"], model_name=name, version="2")
    approvals.approval_request_approve(actor=personas["lead_search_2"], request_id=request.id)
    assert version_is_approved(model_name=name, version="2")
    _recreate(name, run_ids, champion=1)

    with pytest.raises(services.GateFailed) as refused:
        services.alias_promote(model_name=name, version="2", actor=personas["lead_search"])

    assert "approval" in [rule.rule for rule in refused.value.gate.failures]
    assert not version_is_approved(model_name=name, version="2")
    recreated = AuditEvent.objects.get(action="model.recreated", target_id=name)
    assert recreated.after["approvals_voided"] == [request.id]
