"""Who gets an event, as the SMTP server sees it (real Celery worker, aiosmtpd process): nobody is told of
their own action, even as a team lead or a watcher of the model; a requester is told what someone else
decided about their request (approved, rejected, withdrawn by an admin)."""

from __future__ import annotations

import pytest

from notifications.models import DeliveryState, Notification
from notifications.services import model_watch_set
from registry_ui.approvals import services as approvals
from registry_ui.promotion import services as promotion
from tests.notifications.conftest import last_notification_id, mails_about, notification_ids_since, wait_delivered

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_actor_is_never_told_of_their_own_action_but_a_requester_of_a_decision(  # type: ignore[no-untyped-def]
    celery_worker, notify_settings, personas, make_model, smtp_server
):
    name = make_model([0.85, 0.86, 0.87], aliases={"champion": 1})
    lead, lead_2, member, admin = (personas[u] for u in ("lead_search", "lead_search_2", "member_search", "admin"))
    model_watch_set(actor=lead, model_name=name, watch=True)  # the actor is a lead AND a watcher
    first = last_notification_id()

    mine = approvals.approval_request_create(actor=lead, model_name=name, version=2)
    approvals.approval_request_approve(actor=lead_2, request_id=mine.pk, comment="ok")
    promotion.alias_make_challenger(model_name=name, version=2, actor=lead)
    own = approvals.approval_request_create(actor=lead_2, model_name=name, version=1)
    approvals.approval_request_withdraw(actor=lead_2, request_id=own.pk)
    theirs = approvals.approval_request_create(actor=member, model_name=name, version=3)
    approvals.approval_request_withdraw(actor=admin, request_id=theirs.pk, comment="superseded")

    rows = wait_delivered(notification_ids_since(first, events={"model.challenger_set": 1}))
    assert {n.state for n in rows.values()} == {DeliveryState.SENT}
    got = set(mails_about(smtp_server.messages(), name))

    def told(user: str, subject: str) -> bool:
        return (f"{user}@example.com", subject) in got

    requested, approved = f"Approval requested: {name}/2", f"Approval approved: {name}/2"
    assert told("lead_search_2", requested) and not told("lead_search", requested)
    assert told("lead_search", approved) and not told("lead_search_2", approved)  # the requester, decided by another
    challenger = f"{name}: @challenger → v2"
    assert told("lead_search_2", challenger) and not told("lead_search", challenger)
    withdrawn_own = f"Approval request withdrawn: {name}/1"
    assert told("lead_search", withdrawn_own) and not told("lead_search_2", withdrawn_own)
    withdrawn_by_admin = f"Approval request withdrawn: {name}/3"
    assert told("member_search", withdrawn_by_admin)  # the requester: an admin withdrew it
    assert not told("admin", withdrawn_by_admin)
    # the actor's own address is not even recorded for their action (nothing pending, nothing to re-send)
    own_rows = Notification.objects.filter(pk__gt=first, recipient="lead_search@example.com")
    assert not own_rows.filter(subject__in=[requested, challenger]).exists()


def test_a_deactivated_person_is_told_nothing(  # type: ignore[no-untyped-def]
    celery_worker, notify_settings, personas, make_model, smtp_server
):
    """Someone who left (the account deactivated, as the README says to do) is not emailed the decision
    on the request they made before leaving, nor anything they watched or led: leads, watchers and
    operators were filtered already, the requester was not."""
    name = make_model([0.85, 0.86])
    lead, lead_2, member = (personas[u] for u in ("lead_search", "lead_search_2", "member_search"))
    model_watch_set(actor=member, model_name=name, watch=True)
    req = approvals.approval_request_create(actor=member, model_name=name, version=2)
    other = approvals.approval_request_create(actor=member, model_name=name, version=1)
    member.is_active = False
    member.save(update_fields=["is_active"])
    first = last_notification_id()
    approvals.approval_request_approve(actor=lead, request_id=req.pk, comment="ok")
    approvals.approval_request_withdraw(actor=personas["admin"], request_id=other.pk, comment="left the company")

    rows = wait_delivered(notification_ids_since(first))
    assert {n.state for n in rows.values()} == {DeliveryState.SENT}
    got = mails_about(smtp_server.messages(), name)
    assert ("lead_search_2@example.com", f"Approval approved: {name}/2") in got  # the team is told
    assert not [m for m in got if m[0] == "member_search@example.com"], got
    assert not Notification.objects.filter(pk__gt=first, recipient="member_search@example.com").exists()
