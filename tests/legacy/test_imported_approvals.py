"""Case 6 of issue 16: approvals recorded in MLflow tags before mlopsadmin (approved_by / approval_date,
as the operations guide writes them) are imported as "approved outside mlopsadmin" (who, when, audited as
imported, old values kept when they change); the gate policy says whether they count; approving in
mlopsadmin keeps the overwritten values in its audit event (real MLflow server)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.approvals import services as approvals
from registry_ui.promotion.models import GatePolicy

pytestmark = pytest.mark.django_db

BY_HAND = {"approved_by": "jane.doe", "approval_date": "2026-03-05"}


def _promote(api, name: str, version: str):  # type: ignore[no-untyped-def]
    return api("lead_search").post(
        f"/api/v1/models/{name}/promote", {"version": version}, content_type="application/json"
    )


def test_imported_approval_counts_and_changes_are_audited(make_model, api) -> None:
    made = make_model([{"val_ndcg_at_10": 0.85}, {"val_ndcg_at_10": 0.90}], aliases={"champion": 1}, tags=BY_HAND)
    GatePolicy.objects.filter(model_name=made.name).update(require_approval=True)
    refused = _promote(api, made.name, "2")
    assert refused.status_code == 422 and any("not approved" in r for r in refused.json()["reasons"])

    call_command("import_approvals", model=made.name)  # at install; hourly afterwards
    event = AuditEvent.objects.get(action="approval.import", target_id=f"{made.name}/2")
    assert event.after["approved_by"] == "jane.doe" and event.after["approval_date"] == "2026-03-05"
    assert event.before is None

    mlf.set_model_version_tag(made.name, "2", "approved_by", "john.roe")  # changed by hand in MLflow
    call_command("import_approvals", model=made.name)
    changed = AuditEvent.objects.filter(action="approval.import", target_id=f"{made.name}/2").order_by("-id").first()
    assert changed.before == BY_HAND and changed.after["approved_by"] == "john.roe"

    done = _promote(api, made.name, "2")
    assert done.status_code == 200, done.content
    rule = next(r for r in done.json()["gate"]["rules"] if r["rule"] == "approval")
    assert rule["status"] == "pass" and "Approved outside mlopsadmin by john.roe on 2026-03-05" in rule["message"]


def test_policy_can_refuse_imported_approvals(make_model, api) -> None:
    made = make_model([{"val_ndcg_at_10": 0.85}, {"val_ndcg_at_10": 0.90}], aliases={"champion": 1}, tags=BY_HAND)
    GatePolicy.objects.filter(model_name=made.name).update(require_approval=True, count_imported_approvals=False)
    call_command("import_approvals", model=made.name)
    refused = _promote(api, made.name, "2")
    assert refused.status_code == 422
    assert any("counts only approvals decided in mlopsadmin" in r for r in refused.json()["reasons"])


def test_approving_here_keeps_the_overwritten_tags_in_the_audit(make_model, personas) -> None:
    made = make_model([{"val_ndcg_at_10": 0.85}], tags=BY_HAND)
    request = approvals.approval_request_create(actor=personas["member_search"], model_name=made.name, version="1")
    approvals.approval_request_approve(actor=personas["lead_search"], request_id=request.pk)
    event = AuditEvent.objects.get(action="approval.approve", target_id=f"{made.name}/1")
    assert event.after["overwritten"] == BY_HAND
    assert mlf.get_model_version(made.name, "1").tags["approved_by"] == "lead_search"


def test_approval_tags_removed_in_mlflow_no_longer_count(make_model, api) -> None:
    """Someone takes the approval back by deleting the tags in MLflow: the gate reads MLflow's tags at
    promotion time (before any re-import), and the next import records the removal (old values kept)."""
    made = make_model([{"val_ndcg_at_10": 0.85}, {"val_ndcg_at_10": 0.90}], aliases={"champion": 1}, tags=BY_HAND)
    GatePolicy.objects.filter(model_name=made.name).update(require_approval=True)
    call_command("import_approvals", model=made.name)
    for key in BY_HAND:
        mlf.delete_model_version_tag(made.name, "2", key)

    refused = _promote(api, made.name, "2")
    assert refused.status_code == 422, refused.content
    rule = next(r for r in refused.json()["gate"]["rules"] if r["rule"] == "approval")
    assert rule["status"] == "fail" and "no longer" in rule["message"], rule
    assert mlf.get_registered_model(made.name).aliases == {"champion": "1"}

    call_command("import_approvals", model=made.name)
    removed = AuditEvent.objects.filter(action="approval.import", target_id=f"{made.name}/2").order_by("-id").first()
    assert removed.before == BY_HAND and removed.after["approved_by"] == "" and "removed" in removed.reason
    call_command("import_approvals", model=made.name)  # nothing new: no second event
    assert AuditEvent.objects.filter(action="approval.import", target_id=f"{made.name}/2").count() == 2


@pytest.mark.parametrize(
    "tags",
    [
        {"Approved_By": "jane.doe", "Approval_Date": "2026-03-05"},
        {"approved-by": "jane.doe", "approval-date": "2026-03-05"},
        {"approvedBy": "jane.doe", "approvalDate": "2026-03-05"},
        {"Approved By": " jane.doe ", "Approval Date": "2026-03-05"},
    ],
)
def test_approvals_recorded_by_hand_in_other_spellings_are_imported(make_model, api, tags) -> None:
    made = make_model([{"val_ndcg_at_10": 0.85}, {"val_ndcg_at_10": 0.90}], aliases={"champion": 1}, tags=tags)
    GatePolicy.objects.filter(model_name=made.name).update(require_approval=True)
    call_command("import_approvals", model=made.name)
    event = AuditEvent.objects.get(action="approval.import", target_id=f"{made.name}/2")
    assert (event.after["approved_by"], event.after["approval_date"]) == ("jane.doe", "2026-03-05")
    assert _promote(api, made.name, "2").status_code == 200


@pytest.mark.parametrize("placeholder", ["pending", "TBD", "n/a", "-", "none", "?"])
def test_a_placeholder_approver_is_not_an_approval(make_model, api, placeholder) -> None:
    made = make_model(
        [{"val_ndcg_at_10": 0.85}, {"val_ndcg_at_10": 0.90}], aliases={"champion": 1}, tags={"approved_by": placeholder}
    )
    GatePolicy.objects.filter(model_name=made.name).update(require_approval=True)
    call_command("import_approvals", model=made.name)
    assert not AuditEvent.objects.filter(action="approval.import", target_id=f"{made.name}/2").exists()
    assert _promote(api, made.name, "2").status_code == 422


@pytest.mark.parametrize("by_hand", [BY_HAND, {"Approved By": "jane.doe", "approval-date": "2026-03-05"}])
def test_rejecting_a_version_approved_by_hand_takes_the_approval_off_mlflow(make_model, personas, api, by_hand) -> None:
    """Break-test of case 6: a rejection decided here left the hand-written approved_by / approval_date in
    MLflow, so MLflow (what the operations guide and deploy scripts read) still said 'approved by jane.doe'
    for a version mlopsadmin had rejected. The rejection takes them off (old values in its audit event),
    ends the imported approval, and the next import does not bring it back. Keys in any spelling."""
    made = make_model([{"val_ndcg_at_10": 0.85}, {"val_ndcg_at_10": 0.90}], aliases={"champion": 1}, tags=by_hand)
    GatePolicy.objects.filter(model_name=made.name).update(require_approval=True)
    call_command("import_approvals", model=made.name)
    request = approvals.approval_request_create(actor=personas["member_search"], model_name=made.name, version="2")
    approvals.approval_request_reject(actor=personas["lead_search"], request_id=request.pk, comment="leaky features")

    tags = mlf.get_model_version(made.name, "2").tags
    assert not set(by_hand) & set(tags), tags
    event = AuditEvent.objects.get(action="approval.reject", target_id=f"{made.name}/2")
    assert event.after["removed"] == by_hand and event.after["tags"] == {}
    call_command("import_approvals", model=made.name)
    refused = _promote(api, made.name, "2")
    assert refused.status_code == 422 and any("not approved" in r for r in refused.json()["reasons"])


def test_approving_here_leaves_no_second_approver_in_another_spelling(make_model, personas) -> None:
    """Break-test of case 6: approving a version whose hand-written tags used another spelling ('Approved
    By') wrote approved_by beside it, so MLflow showed two approvers and the audit event's `overwritten`
    missed the old one. The old spellings leave MLflow and are kept in `overwritten`."""
    by_hand = {"Approved By": "jane.doe", "approval-date": "2026-03-05"}
    made = make_model([{"val_ndcg_at_10": 0.85}], tags=by_hand)
    request = approvals.approval_request_create(actor=personas["member_search"], model_name=made.name, version="1")
    approvals.approval_request_approve(actor=personas["lead_search"], request_id=request.pk)
    tags = mlf.get_model_version(made.name, "1").tags
    assert not set(by_hand) & set(tags) and tags["approved_by"] == "lead_search", tags
    event = AuditEvent.objects.get(action="approval.approve", target_id=f"{made.name}/1")
    assert event.after["overwritten"] == by_hand
