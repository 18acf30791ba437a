"""The aliases page, confirmation dialog, change POSTs, the CI API and the MLflow webhook receiver."""

from __future__ import annotations

import json
import time

from django.urls import reverse
from django.utils.html import escape

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.core.services import api_token_create
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.promotion import plans
from registry_ui.promotion.models import AliasEvent, GatePolicy
from tests.promotion.conftest import deliver


def aliases(name: str) -> dict[str, str]:
    return mlf.get_registered_model(name).aliases


def test_aliases_page_shows_aliases_actions_history_and_flags(make_model, login) -> None:
    name = make_model([0.85, 0.86], aliases={"champion": 1, "previous-champion": 1, "challenger": 2})
    client = login("lead_search")
    response = client.get(reverse("promotion:aliases", args=[name]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "@champion and @previous-champion both point at v1." in html
    assert reverse("promotion:confirm", args=[name, "repair"]) in html
    assert reverse("promotion:confirm", args=[name, "promote"]) in html
    assert 'id="dialog-slot"' in html and 'id="alias-history"' in html


def test_confirm_dialog_lists_moves_and_gate_then_promotes(make_model, login) -> None:
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    client = login("lead_search")
    dialog = client.get(reverse("promotion:confirm", args=[name, "promote"]), HTTP_HX_REQUEST="true")
    html = dialog.content.decode()
    assert dialog.status_code == 200 and "<dialog" in html and "<html" not in html
    assert "@previous-champion" in html and "@champion" in html and "passed" in html
    token = plans.state_token({"champion": "1", "challenger": "2"})
    assert f'name="expected" value="{escape(token)}"' in html  # the state the user saw travels with the form
    response = client.post(reverse("promotion:change", args=[name, "promote"]), {"expected": token})
    assert response.status_code == 302
    assert aliases(name) == {"champion": "2", "previous-champion": "1"}


def test_confirm_dialog_shows_failed_gate_rules_with_numbers(make_model, login) -> None:
    name = make_model([0.90, 0.85], aliases={"champion": 1, "challenger": 2})
    html = login("lead_search").get(reverse("promotion:confirm", args=[name, "promote"])).content.decode()
    assert "failed" in html and "5.56% below champion v1" in html
    assert "Only an admin can override" in html


def test_stale_form_is_refused_with_409_and_the_new_state(make_model, login) -> None:
    name = make_model([0.85, 0.86, 0.87], aliases={"champion": 1, "challenger": 2})
    token = plans.state_token(aliases(name))
    mlf.set_model_alias(name, "challenger", "3")
    response = login("lead_search").post(reverse("promotion:change", args=[name, "promote"]), {"expected": token})
    assert response.status_code == 409
    html = response.content.decode()
    assert "The aliases changed since you looked" in html and "@challenger=v3" in html
    assert aliases(name) == {"champion": "1", "challenger": "3"}


def test_rollback_form_requires_a_reason_and_tags_the_version(make_model, login) -> None:
    name = make_model([0.85, 0.86], aliases={"champion": 2, "previous-champion": 1})
    client = login("lead_search")
    url = reverse("promotion:change", args=[name, "rollback"])
    assert client.post(url, {"reason": "  "}).status_code == 400
    assert aliases(name) == {"champion": "2", "previous-champion": "1"}
    assert client.post(url, {"reason": "conversion dropped"}).status_code == 302
    assert aliases(name) == {"champion": "1", "rolled-back": "2"}
    assert mlf.get_model_version(name, "2").tags["rollback_reason"] == "conversion dropped"


def test_gate_policy_is_edited_by_the_lead_only(make_model, login) -> None:
    name = make_model([0.85])
    url = reverse("promotion:gate_policy", args=[name])
    data = {"metric": "val_auc", "threshold": "0.7", "max_drop_pct": "5"}
    assert login("member_search").post(url, data).status_code == 403
    assert login("lead_search").post(url, data).status_code == 302
    policy = GatePolicy.objects.get(model_name=name)
    assert (policy.metric, policy.threshold, policy.max_drop_pct, policy.require_approval) == (
        "val_auc",
        0.7,
        5.0,
        False,
    )
    assert AuditEvent.objects.filter(target_id=name, action="model.gate_policy_edit").count() == 1


# --- API ------------------------------------------------------------------------------------------
def api_post(client, path: str, token: str, body: dict):  # type: ignore[no-untyped-def]
    return client.post(
        path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def test_api_challenger_promote_rollback_for_ci(make_model, client, personas) -> None:
    name = make_model([0.85, 0.86])
    _, token = api_token_create(actor="test", user=personas["lead_search"], name="ci")
    response = api_post(client, f"/api/v1/models/{name}/challenger", token, {"version": "1"})
    assert response.status_code == 200, response.content
    assert api_post(client, f"/api/v1/models/{name}/promote", token, {}).json()["aliases"] == {"champion": "1"}
    api_post(client, f"/api/v1/models/{name}/challenger", token, {"version": "2"})
    body = api_post(
        client, f"/api/v1/models/{name}/promote", token, {"expected_aliases": {"champion": "1", "challenger": "2"}}
    ).json()
    assert body["aliases"] == {"champion": "2", "previous-champion": "1"} and body["gate"]["passed"]
    response = api_post(client, f"/api/v1/models/{name}/rollback", token, {"reason": "canary errors"})
    assert response.status_code == 200
    assert response.json()["aliases"] == {"champion": "1", "rolled-back": "2"}


def test_api_gate_failure_is_422_with_reasons_and_stale_is_409(make_model, client, personas) -> None:
    name = make_model([0.90, 0.70], aliases={"champion": 1, "challenger": 2})
    _, token = api_token_create(actor="test", user=personas["lead_search"], name="ci")
    response = api_post(client, f"/api/v1/models/{name}/promote", token, {})
    assert response.status_code == 422
    reasons = response.json()["reasons"]
    assert len(reasons) == 2 and "below the threshold" in reasons[0] and "below champion v1" in reasons[1]
    response = api_post(client, f"/api/v1/models/{name}/promote", token, {"expected_aliases": {"champion": "1"}})
    assert response.status_code == 409
    assert response.json()["aliases"] == {"champion": "1", "challenger": "2"}
    assert aliases(name) == {"champion": "1", "challenger": "2"}


def test_api_refuses_members_and_bad_input(make_model, client, personas) -> None:
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    _, token = api_token_create(actor="test", user=personas["member_search"], name="ci")
    assert api_post(client, f"/api/v1/models/{name}/promote", token, {}).status_code == 403
    assert api_post(client, f"/api/v1/models/{name}/challenger", token, {"version": "x"}).status_code == 422
    assert api_post(client, f"/api/v1/models/{name}/rollback", token, {"reason": ""}).status_code == 422
    assert api_post(client, "/api/v1/models/search-no-such-model/promote", token, {}).status_code in (403, 404)
    assert aliases(name) == {"champion": "1", "challenger": "2"}


# --- Webhook --------------------------------------------------------------------------------------
def champion_set(name: str, version: str) -> dict[str, object]:
    """The body MLflow posts when @champion of `name` is set to `version` (model_version_alias.created)."""
    return {
        "entity": "model_version_alias",
        "action": "created",
        "data": {"name": name, "alias": "champion", "version": version},
    }


def test_signed_webhook_triggers_reconciliation_without_login(make_model, client, settings) -> None:
    settings.MLFLOW_WEBHOOK_SECRET = "s3cret-for-tests"
    name = make_model([0.85, 0.86], aliases={"champion": 1})
    payload = champion_set(name, "2")
    assert deliver(client, "s3cret-for-tests", payload).status_code == 202  # first sight: the baseline
    mlf.set_model_alias(name, "champion", "2")
    response = deliver(client, "s3cret-for-tests", payload)
    assert response.status_code == 202 and response.json()["external_changes"] == 1
    event = AliasEvent.objects.get(model_name=name, source="external")
    assert (event.from_version, event.to_version) == ("1", "2")


def test_first_external_change_of_a_model_never_seen_is_recorded(make_model, client, settings) -> None:
    """Issue 21 case 6: register a model in MLflow, set @champion directly; the first delivery records it."""
    settings.MLFLOW_WEBHOOK_SECRET = "s3cret-for-tests"
    name = make_model([0.85, 0.86])
    mlf.set_model_alias(name, "champion", "2")
    payload = champion_set(name, "2")
    response = deliver(client, "s3cret-for-tests", payload)
    assert response.status_code == 202 and response.json()["external_changes"] == 1
    event = AliasEvent.objects.get(model_name=name, source="external")
    assert (event.alias, event.from_version, event.to_version) == ("champion", "", "2")
    assert event.actor_name == "external (directly in MLflow)"
    audit = AuditEvent.objects.get(action="model.alias_external_change", target_id=name)
    assert audit.after["aliases"] == {"champion": "2"}  # the baseline read from MLflow at that moment
    mlf.delete_model_alias(name, "champion")
    deleted = {"entity": "model_version_alias", "action": "deleted", "data": {"name": name, "alias": "champion"}}
    assert deliver(client, "s3cret-for-tests", deleted).json()["external_changes"] == 1
    assert AliasEvent.objects.filter(model_name=name, source="external").count() == 2


def test_webhook_with_a_bad_signature_or_old_timestamp_is_403(make_model, client, settings) -> None:
    settings.MLFLOW_WEBHOOK_SECRET = "s3cret-for-tests"
    name = make_model([0.85], aliases={"champion": 1})
    payload = {"entity": "model_version_alias", "action": "created", "data": {"name": name}}
    assert deliver(client, "wrong-secret", payload).status_code == 403
    assert deliver(client, "s3cret-for-tests", payload, signature="v1,AAAA").status_code == 403
    assert deliver(client, "s3cret-for-tests", payload, timestamp=int(time.time()) - 3600).status_code == 403
    assert client.post(reverse("promotion:webhook"), data="{}", content_type="application/json").status_code == 403
    settings.MLFLOW_WEBHOOK_SECRET = ""
    assert deliver(client, "", payload).status_code == 403
    assert not AliasEvent.objects.filter(model_name=name).exclude(source=AliasEvent.SOURCE_BASELINE).exists()


def test_home_tile_counts_alias_moves_and_flags_external_changes(make_model, login, personas) -> None:
    from registry_ui.promotion import services

    name = make_model([0.85, 0.86])
    services.alias_make_challenger(model_name=name, version="1", actor=personas["lead_search"])
    mlf.set_model_alias(name, "champion", "2")
    services.alias_reconcile(model_name=name)
    html = login("operator").get("/").content.decode()
    assert "Alias moves (7 days)" in html and f"{name} @champion: – → 2 (external)" in html


def test_a_replayed_delivery_is_answered_but_not_handled_again(make_model, client, settings) -> None:
    """A genuine delivery captured on the way and sent again within the 5 minutes its timestamp is accepted
    passed every check: each replay made mlopsadmin read MLflow again (reconcile and index refresh) and
    could stand for a delivery MLflow never sent. A delivery id already handled is answered 200 (MLflow's own
    retry of it is satisfied) and nothing is read or recorded; a new delivery is handled as before."""
    import uuid

    settings.MLFLOW_WEBHOOK_SECRET = "s3cret-for-tests"
    name = make_model([0.85, 0.86], aliases={"champion": 1})
    payload = champion_set(name, "2")
    delivery, stamp = str(uuid.uuid4()), int(time.time())
    assert deliver(client, "s3cret-for-tests", payload, delivery=delivery, timestamp=stamp).status_code == 202
    mlf.set_model_alias(name, "champion", "2")
    replay = deliver(client, "s3cret-for-tests", payload, delivery=delivery, timestamp=stamp)
    assert replay.status_code == 200 and "already" in replay.json()["detail"].lower()
    assert not AliasEvent.objects.filter(model_name=name, source="external").exists()  # the replay did nothing
    fresh = deliver(client, "s3cret-for-tests", payload)
    assert fresh.status_code == 202 and fresh.json()["external_changes"] == 1
