"""The four-eyes approval workflow against the real MLflow server (own models, never the demo's)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from mlopsadmin.core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import services as registry_services
from registry_ui.approvals import services
from registry_ui.approvals.selectors import approval_state, inbox_count, inbox_for, version_is_approved
from registry_ui.models import ApprovalRequest

pytestmark = pytest.mark.django_db


def _events(target: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(target_kind="model_version", target_id=target).order_by("id"))


def test_request_then_approve_writes_tags_into_mlflow(own_model, personas) -> None:
    name, version = own_model.name, own_model.versions[1]
    req = services.approval_request_create(
        actor=personas["member_search"], model_name=name, version=version, comment="beats champion by 2 points"
    )
    assert req.state == "pending" and req.team == "search"
    assert approval_state(model_name=name, version=version) == "pending"
    assert not version_is_approved(model_name=name, version=version)
    assert "approved_by" not in mlf.get_model_version(name, version).tags

    decided = services.approval_request_approve(actor=personas["lead_search"], request_id=req.pk, comment="ok")

    assert decided.state == "approved" and decided.decided_by == personas["lead_search"]
    tags = mlf.get_model_version(name, version).tags
    assert tags["approved_by"] == "lead_search"
    assert tags["approval_date"] == dt.datetime.now(dt.UTC).date().isoformat()
    assert version_is_approved(model_name=name, version=version)
    assert not version_is_approved(model_name=name, version=own_model.versions[0])
    events = _events(f"{name}/{version}")
    assert [(e.action, e.outcome, e.actor_name) for e in events] == [
        ("approval.request", "ok", "member_search"),
        ("approval.approve", "ok", "lead_search"),
    ]
    assert events[1].after["tags"] == {"approved_by": "lead_search", "approval_date": tags["approval_date"]}
    assert events[1].team == "search"


def test_requester_can_never_decide_even_as_admin(own_model, personas) -> None:
    name, version = own_model.name, own_model.versions[0]
    req = services.approval_request_create(actor=personas["admin"], model_name=name, version=version)
    with pytest.raises(RuleViolation, match="Four-eyes"):
        services.approval_request_approve(actor=personas["admin"], request_id=req.pk)
    with pytest.raises(RuleViolation, match="Four-eyes"):
        services.approval_request_reject(actor=personas["admin"], request_id=req.pk, comment="no")
    req.refresh_from_db()
    assert req.state == "pending"
    assert "approved_by" not in mlf.get_model_version(name, version).tags
    # another decider may
    services.approval_request_approve(actor=personas["lead_search"], request_id=req.pk)
    assert mlf.get_model_version(name, version).tags["approved_by"] == "lead_search"


def test_lead_requesting_cannot_approve_own_request(own_model, personas) -> None:
    req = services.approval_request_create(
        actor=personas["lead_search"], model_name=own_model.name, version=own_model.versions[0]
    )
    with pytest.raises(RuleViolation):
        services.approval_request_approve(actor=personas["lead_search"], request_id=req.pk)
    assert ApprovalRequest.objects.get(pk=req.pk).state == "pending"


def test_lead_of_another_team_and_plain_members_are_refused(own_model, personas) -> None:
    req = services.approval_request_create(
        actor=personas["member_search"], model_name=own_model.name, version=own_model.versions[0]
    )
    for username in ("lead_fraud", "member_search", "operator", "auditor", "outsider"):
        with pytest.raises(PermissionDenied):
            services.approval_request_approve(actor=personas[username], request_id=req.pk)
    with pytest.raises(PermissionDenied):  # a member of another team cannot even request
        services.approval_request_create(
            actor=personas["member_fraud"], model_name=own_model.name, version=own_model.versions[1]
        )
    assert ApprovalRequest.objects.get(pk=req.pk).state == "pending"
    assert inbox_count(personas["lead_search"]) == 1 and inbox_count(personas["lead_fraud"]) == 0
    assert [r.pk for r in inbox_for(personas["lead_search"])] == [req.pk]
    assert inbox_for(personas["member_search"]) == []


def test_withdrawn_and_decided_requests_cannot_be_decided_again(own_model, personas) -> None:
    name, (v1, v2) = own_model.name, own_model.versions
    withdrawn = services.approval_request_create(actor=personas["member_search"], model_name=name, version=v1)
    with pytest.raises(RuleViolation, match="requester"):  # not the requester, not admin
        services.approval_request_withdraw(actor=personas["lead_search"], request_id=withdrawn.pk)
    services.approval_request_withdraw(actor=personas["member_search"], request_id=withdrawn.pk)
    with pytest.raises(Conflict, match="withdrawn"):
        services.approval_request_approve(actor=personas["lead_search"], request_id=withdrawn.pk)
    with pytest.raises(Conflict):
        services.approval_request_withdraw(actor=personas["member_search"], request_id=withdrawn.pk)
    assert "approved_by" not in mlf.get_model_version(name, v1).tags
    assert approval_state(model_name=name, version=v1) is None

    rejected = services.approval_request_create(actor=personas["member_search"], model_name=name, version=v2)
    with pytest.raises(InvalidInput, match="Comment"):
        services.approval_request_reject(actor=personas["lead_search"], request_id=rejected.pk, comment="  ")
    services.approval_request_reject(actor=personas["lead_search"], request_id=rejected.pk, comment="data leak")
    with pytest.raises(Conflict, match="already rejected by lead_search"):
        services.approval_request_approve(actor=personas["admin"], request_id=rejected.pk)
    assert "approved_by" not in mlf.get_model_version(name, v2).tags
    assert approval_state(model_name=name, version=v2) == "rejected"

    approved = services.approval_request_create(actor=personas["member_search"], model_name=name, version=v2)
    services.approval_request_approve(actor=personas["lead_search"], request_id=approved.pk)
    with pytest.raises(Conflict, match="already approved"):
        services.approval_request_approve(actor=personas["admin"], request_id=approved.pk)
    with pytest.raises(Conflict, match="already approved"):  # approving twice via a new request
        services.approval_request_create(actor=personas["member_search"], model_name=name, version=v2)
    assert [e.action for e in _events(f"{name}/{v2}")] == [
        "approval.request",
        "approval.reject",
        "approval.request",
        "approval.approve",
    ]


def test_second_pending_request_and_unknown_versions_are_refused(own_model, personas) -> None:
    name = own_model.name
    services.approval_request_create(actor=personas["member_search"], model_name=name, version=own_model.versions[0])
    with pytest.raises(Conflict, match="pending approval request"):
        services.approval_request_create(actor=personas["lead_search"], model_name=name, version=own_model.versions[0])
    with pytest.raises(NotFound, match="does not exist"):
        services.approval_request_create(actor=personas["member_search"], model_name=name, version="99")
    with pytest.raises(InvalidInput):
        services.approval_request_create(actor=personas["member_search"], model_name=name, version="latest")
    with pytest.raises(NotFound):
        services.approval_request_approve(actor=personas["lead_search"], request_id=987654)


def test_approving_a_deleted_version_is_refused_and_changes_nothing(own_model, personas) -> None:
    name, version = own_model.name, own_model.versions[0]
    req = services.approval_request_create(actor=personas["member_search"], model_name=name, version=version)
    mlf.delete_model_version(name, version)
    with pytest.raises(NotFound, match="unknown or deleted"):
        services.approval_request_approve(actor=personas["lead_search"], request_id=req.pk)
    assert ApprovalRequest.objects.get(pk=req.pk).state == "pending"
    assert [e.action for e in _events(f"{name}/{version}")] == ["approval.request"]


def test_mlflow_down_records_nothing_but_a_failed_audit_event(own_model, personas, settings) -> None:
    name, version = own_model.name, own_model.versions[1]
    req = services.approval_request_create(actor=personas["member_search"], model_name=name, version=version)
    live = settings.MLFLOW_TRACKING_URI
    settings.MLFLOW_TRACKING_URI = "http://127.0.0.1:9"  # nothing listens on the discard port
    try:
        with pytest.raises(mlf.MlflowUnavailable):
            services.approval_request_approve(actor=personas["lead_search"], request_id=req.pk)
    finally:
        settings.MLFLOW_TRACKING_URI = live
    assert ApprovalRequest.objects.get(pk=req.pk).state == "pending"
    last = _events(f"{name}/{version}")[-1]
    assert (last.action, last.outcome) == ("approval.approve", "failed")
    assert "approved_by" not in mlf.get_model_version(name, version).tags
    services.approval_request_approve(actor=personas["lead_search"], request_id=req.pk)  # retry works
    assert version_is_approved(model_name=name, version=version)


def test_notifications_go_to_the_team_leads(
    own_model, personas, mailoutbox, django_capture_on_commit_callbacks, settings
) -> None:
    from mlopsadmin.celery import app

    settings.NOTIFY_WEBHOOK_URL = ""
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            req = services.approval_request_create(
                actor=personas["member_search"],
                model_name=own_model.name,
                version=own_model.versions[0],
                comment="please",
            )
        with django_capture_on_commit_callbacks(execute=True):
            services.approval_request_approve(actor=personas["lead_search"], request_id=req.pk)
    finally:
        app.conf.task_always_eager = False
    subjects = [(m.subject, m.to) for m in mailoutbox]  # one email per recipient (issue 21)
    leads = ["lead_search@example.com", "lead_search_2@example.com"]  # both ML leads of the team
    for lead in leads:
        assert (f"Approval requested: {req.target_id}", [lead]) in subjects
    # The decision goes to the other lead and the requester, never to the lead who made it (issue 21).
    assert (f"Approval approved: {req.target_id}", ["lead_search_2@example.com"]) in subjects
    assert (f"Approval approved: {req.target_id}", ["lead_search@example.com"]) not in subjects
    assert (f"Approval approved: {req.target_id}", ["member_search@example.com"]) in subjects  # the requester


@pytest.mark.django_db(transaction=True)  # real commits: on_commit callbacks run as in production
def test_a_failing_notification_channel_never_blocks_the_approval(own_model, personas, settings) -> None:
    from mlopsadmin.celery import app

    settings.NOTIFY_WEBHOOK_URL = "http://127.0.0.1:9/hook"  # refuses connections
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True  # the delivery error reaches the caller, like a dead broker would
    try:
        req = services.approval_request_create(
            actor=personas["member_search"], model_name=own_model.name, version=own_model.versions[0]
        )
        services.approval_request_approve(actor=personas["lead_search"], request_id=req.pk)
    finally:
        app.conf.task_always_eager = False
        app.conf.task_eager_propagates = False
    assert ApprovalRequest.objects.get(pk=req.pk).state == "approved"
    assert mlf.get_model_version(own_model.name, own_model.versions[0]).tags["approved_by"] == "lead_search"


def test_tag_edit_is_written_to_mlflow_and_audited(own_model, personas) -> None:
    name, version = own_model.name, own_model.versions[0]
    registry_services.version_tag_set(
        actor=personas["member_search"], model_name=name, version=version, key="training_commit", value="0123abcd"
    )
    assert mlf.get_model_version(name, version).tags["training_commit"] == "0123abcd"
    registry_services.version_tag_set(
        actor=personas["member_search"], model_name=name, version=version, key="training_commit", value="ffff0000"
    )
    registry_services.version_tag_set(
        actor=personas["member_search"], model_name=name, version=version, key="training_commit", value=""
    )  # empty deletes
    assert "training_commit" not in mlf.get_model_version(name, version).tags
    events = _events(f"{name}/{version}")
    assert [(e.action, e.before, e.after) for e in events] == [
        ("model_version.tag_set", {"training_commit": None}, {"training_commit": "0123abcd"}),
        ("model_version.tag_set", {"training_commit": "0123abcd"}, {"training_commit": "ffff0000"}),
        ("model_version.tag_set", {"training_commit": "ffff0000"}, {"training_commit": None}),
    ]
    with pytest.raises(PermissionDenied):
        registry_services.version_tag_set(
            actor=personas["member_fraud"], model_name=name, version=version, key="training_commit", value="x"
        )
    with pytest.raises(RuleViolation, match="approval workflow"):
        registry_services.version_tag_set(
            actor=personas["admin"], model_name=name, version=version, key="approved_by", value="me"
        )
    with pytest.raises(InvalidInput):
        registry_services.version_tag_set(
            actor=personas["admin"], model_name=name, version=version, key="bad@name", value="x"
        )
    assert "approved_by" not in mlf.get_model_version(name, version).tags
    assert len(_events(f"{name}/{version}")) == 3
