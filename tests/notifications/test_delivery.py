"""Every governed event delivered on every channel exactly once, by a real Celery worker, to a real
SMTP server process (aiosmtpd) and a real HTTP webhook receiver; one channel down never blocks or
repeats the other; failures are on the delivery log and re-sendable; no webhook secret in any log."""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from pathlib import Path

import pytest
from django.urls import reverse

from checklists import tasks as checklist_tasks
from checklists.selectors import overdue_instances
from checklists.services import instances_ensure
from maintenance import task_runs
from maintenance.capacity.check import _capacity_alert
from maintenance.models import TaskKind, TaskRun, TaskState
from mlopsadmin.core.models import AuditEvent, Team
from mlopsadmin.lib import mlflow_client as mlf
from notifications.models import DeliveryState, Notification, TeamWebhook
from notifications.services import model_watch_set
from registry_ui.approvals import services as registry_services
from registry_ui.promotion import seams
from registry_ui.promotion import services as promotion_services
from tests.notifications.conftest import (
    last_notification_id,
    mails_about,
    notification_ids_since,
    subject,
    wait_delivered,
)
from tests.servers import WORKER_SITE_URL

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SLACK_TRAP = "<!channel> <http://evil.example/x|click here> & co"


def _running(kind: str, **parameters: object) -> TaskRun:
    return TaskRun.objects.create(kind=kind, state=TaskState.RUNNING, parameters=parameters, started_by="operator")


def _trigger_every_event(name: str, personas: dict, team_hook: str) -> None:  # type: ignore[type-arg]
    lead, member = personas["lead_search"], personas["member_search"]
    req = registry_services.approval_request_create(actor=member, model_name=name, version=2, comment=SLACK_TRAP)
    registry_services.approval_request_approve(actor=lead, request_id=req.pk, comment="fine")
    other = registry_services.approval_request_create(actor=member, model_name=name, version=1)
    registry_services.approval_request_withdraw(actor=member, request_id=other.pk)
    promotion_services.alias_make_challenger(model_name=name, version=2, actor=lead)
    promotion_services.alias_promote(model_name=name, actor=lead)
    promotion_services.alias_rollback(model_name=name, actor=lead, reason="latency doubled <!here>")
    mlf.set_model_alias(name, "challenger", "1")  # directly in MLflow
    promotion_services.alias_reconcile(model_name=name)

    def fail_second_step(step: int) -> None:
        if step == 1:
            raise mlf.MlflowInvalid("injected refusal", operation="set alias")

    promotion_services.alias_make_challenger(model_name=name, version=2, actor=lead)
    seams.before_write.append(fail_second_step)
    try:
        with pytest.raises(promotion_services.PartialChange):
            promotion_services.alias_promote(model_name=name, actor=lead)  # → repair needed
    finally:
        seams.before_write.remove(fail_second_step)
    task_runs.task_run_finish(_running(TaskKind.REAPER), state=TaskState.FAILED, errors=["boom"])
    cleanup = _running(TaskKind.CLEANUP_EXECUTE, plan_id=0)
    task_runs.task_run_finish(cleanup, state=TaskState.SUCCEEDED, counts={"deleted": 3})
    capacity = _running(TaskKind.CAPACITY)
    _capacity_alert(capacity, {"level": "warning", "messages": ["artifacts 81 %"]}, 10, None)
    instances_ensure(today=dt.date(2020, 1, 8))  # a weekly checklist that is long overdue
    checklist_tasks.checklist_instances_scheduled()


EXPECTED_EVENTS = {
    "approval.requested": 2,
    "approval.decided": 1,
    "approval.withdrawn": 1,
    "model.challenger_set": 2,
    "model.promoted": 1,
    "model.rolled_back": 1,
    "model.alias_external": 1,
    "model.repair_needed": 1,
    "task.failed": 1,
    "cleanup.executed": 1,
    "capacity.warning": 1,
}
MODEL_EVENTS = {k for k in EXPECTED_EVENTS if k.startswith(("approval.", "model."))}


def test_every_event_reaches_every_channel_exactly_once(  # type: ignore[no-untyped-def]
    celery_worker, notify_settings, personas, make_model, smtp_server, webhook_receiver
):
    name = make_model([0.85, 0.86], aliases={"champion": 1})
    team_hook = webhook_receiver.url("search")
    TeamWebhook.objects.create(team=Team.objects.get(name="search"), url=team_hook)
    model_watch_set(actor=personas["member_fraud"], model_name=name, watch=True)  # a watcher outside the team
    first = last_notification_id()
    _trigger_every_event(name, personas, team_hook)

    alias_events = ("model.challenger_set", "model.promoted", "model.rolled_back", "model.repair_needed")
    rows = wait_delivered(notification_ids_since(first, events={k: EXPECTED_EVENTS[k] for k in alias_events}))
    assert {n.state for n in rows.values()} == {DeliveryState.SENT}, [n.last_error for n in rows.values()]
    per_event = Counter(n.event_key for n in rows.values() if n.recipient == "global")
    overdue = len(overdue_instances())  # the 2020 week and month (and the initial checklist)
    assert overdue >= 2 and Counter(key.split(":")[0] for key in per_event) == {
        **EXPECTED_EVENTS,
        "checklist.overdue": overdue,
    }
    assert set(per_event.values()) == {1}
    # the global webhook got each event once, the team's webhook each model event once
    global_posts = webhook_receiver.posts_to(notify_settings.NOTIFY_WEBHOOK_URL)
    keys = [p["headers"]["Idempotency-Key"] for p in global_posts]
    assert len(keys) == len(set(keys)) and len(keys) >= sum(EXPECTED_EVENTS.values()) + overdue
    team_posts = webhook_receiver.posts_to(team_hook)
    assert len(team_posts) == sum(n for k, n in EXPECTED_EVENTS.items() if k in MODEL_EVENTS)
    # email: nobody got anything twice; leads, the requester, the watcher and operators got theirs
    mails = smtp_server.messages()
    email_keys = {n.idempotency_key for n in rows.values() if n.channel == "email"}
    delivered = Counter("".join(str(m["Message-ID"]).split()).strip("<>").split("@")[0] for m in mails)
    assert {key: delivered[key] for key in email_keys} == dict.fromkeys(email_keys, 1)  # each exactly once
    about_model = mails_about(mails, name)
    assert ("lead_search@example.com", f"Approval requested: {name}/2") in about_model
    assert ("member_search@example.com", f"Approval approved: {name}/2") in about_model  # the requester
    watcher = [s for to, s in about_model if to == "member_fraud@example.com"]
    assert len(watcher) == sum(n for k, n in EXPECTED_EVENTS.items() if k in MODEL_EVENTS)
    operator = Counter(
        s.split(":")[0] for to, s in {(str(m["To"]), str(m["Subject"])) for m in mails} if to == "operator@example.com"
    )
    assert {"Task failed", "Cleanup executed", "Capacity warning", "Checklist overdue"} <= set(operator)
    # every message links back; user text cannot ping a channel or disguise a link in Slack
    request_post = next(p for p in team_posts if "Approval requested" in p["json"]["text"])
    text = request_post["json"]["text"]
    assert "&lt;!channel&gt; &lt;http://evil.example/x|click here&gt; &amp; co" in text and "<!channel>" not in text
    assert f"<{WORKER_SITE_URL}/registry/models/{name}/versions/2/|Open in mlopsadmin>" in text
    rollback = next(p["json"]["text"] for p in team_posts if "rolled back" in p["json"]["text"])
    assert "Reason: latency doubled &lt;!here&gt;" in rollback
    mail = next(m for m in mails if subject(m) == f"Approval requested: {name}/2")
    body = mail.get_payload(decode=True).decode()
    assert SLACK_TRAP in body and f"{WORKER_SITE_URL}/registry/models/{name}/versions/2/" in body


def test_receiver_down_email_sent_webhook_failed_on_the_log_and_resent(  # type: ignore[no-untyped-def]
    celery_worker, notify_settings, personas, make_model, smtp_server, webhook_receiver, client
):
    from mlopsadmin.lib.mlflow_server import free_port

    name = make_model([0.85, 0.86], aliases={"champion": 1})
    secret = "T0SECRET/B0SECRET/xoxb9f3c2e7a1d"  # the part of a Slack URL that is the secret
    down = f"http://127.0.0.1:{free_port()}/services/{secret}"  # nothing listens there
    hook = TeamWebhook.objects.create(team=Team.objects.get(name="search"), url=down)
    first = last_notification_id()
    registry_services.approval_request_create(actor=personas["member_search"], model_name=name, version=2)
    rows = wait_delivered(notification_ids_since(first))
    by_channel = {(n.channel, n.recipient): n for n in rows.values()}
    team_row = by_channel[("webhook", f"team:{hook.team_id}")]
    assert team_row.state == DeliveryState.FAILED and team_row.attempts == 3  # first try + 2 retries
    assert by_channel[("email", "lead_search@example.com")].state == DeliveryState.SENT
    assert by_channel[("webhook", "global")].state == DeliveryState.SENT
    assert ("lead_search@example.com", f"Approval requested: {name}/2") in mails_about(smtp_server.messages(), name)

    client.force_login(personas["operator"])
    assert "Given up after the retries" in client.get("/").content.decode()  # the home-page warning
    log = client.get(reverse("notifications:log"), {"state": "failed"}).content.decode()
    assert f'data-notification="{team_row.pk}"' in log and "ConnectionError" in log
    assert secret not in log and "127.0.0.1" in log  # the host is shown, never the secret path

    hook.url = webhook_receiver.url("search-fixed")
    hook.save()
    response = client.post(reverse("notifications:resend", args=[team_row.pk]))
    assert response.status_code == 302
    wait_delivered([team_row.pk])
    assert Notification.objects.get(pk=team_row.pk).state == DeliveryState.SENT
    assert len(webhook_receiver.posts_to(hook.url)) == 1
    assert AuditEvent.objects.filter(action="notification.resend", target_id=str(team_row.pk)).count() == 1
    assert client.post(reverse("notifications:resend", args=[team_row.pk])).status_code == 409  # sent: never twice
    # no secret in any log line of the worker, in any stored error or audit event
    worker_log = Path(os.environ["MLOPSADMIN_TEST_WORKER_LOG"]).read_text()
    assert "Retry in" in worker_log and secret not in worker_log
    assert not Notification.objects.filter(last_error__contains=secret).exists()
    assert not [e for e in AuditEvent.objects.all() if secret in str(e.after) + e.reason]


def test_smtp_down_webhook_sent_once_and_email_resent_later(  # type: ignore[no-untyped-def]
    celery_worker, notify_settings, personas, make_model, smtp_server, webhook_receiver
):
    from notifications.services import notification_resend

    name = make_model([0.85, 0.86], aliases={"champion": 1})
    smtp_server.stop()
    try:
        first = last_notification_id()
        promotion_services.alias_make_challenger(model_name=name, version=2, actor=personas["lead_search"])
        rows = wait_delivered(notification_ids_since(first, events={"model.challenger_set": 1}))
    finally:
        smtp_server.start()
    hook_row = next(n for n in rows.values() if n.channel == "webhook")
    assert hook_row.state == DeliveryState.SENT and hook_row.attempts == 1
    posts = [p for p in webhook_receiver.posts_to(notify_settings.NOTIFY_WEBHOOK_URL) if name in p["json"]["text"]]
    assert len(posts) == 1  # the email's retries never post the webhook again
    mail_row = next(n for n in rows.values() if n.channel == "email")
    assert mail_row.state == DeliveryState.FAILED and "refused" in mail_row.last_error.lower()

    notification_resend(actor=personas["admin"], notification_id=mail_row.pk)
    wait_delivered([mail_row.pk])
    assert Notification.objects.get(pk=mail_row.pk).state == DeliveryState.SENT
    assert mails_about(smtp_server.messages(), name).count((mail_row.recipient, f"{name}: @challenger → v2")) == 1
