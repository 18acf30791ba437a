"""A team webhook that answers 4xx, 5xx, closes the socket or trickles its answer, delivered by the real
Celery worker (NOTIFY_WEBHOOK_TIMEOUT 5 s, 2 retries) next to a real SMTP server: the webhook row fails
after exactly its attempts, each attempt within its timeout, every post with the same Idempotency-Key;
the email and the global webhook go out once; the error names what happened and never the secret."""

from __future__ import annotations

import time

import pytest

from mlopsadmin.core.models import AuditEvent, Team
from notifications.models import DeliveryState, TeamWebhook
from registry_ui.approvals import services as approvals
from tests.notifications.conftest import last_notification_id, mails_about, notification_ids_since, wait_delivered
from tests.servers import WORKER_NOTIFY_RETRIES

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ATTEMPTS = 1 + WORKER_NOTIFY_RETRIES
WORKER_WEBHOOK_TIMEOUT = 5.0  # NOTIFY_WEBHOOK_TIMEOUT of the worker (tests/servers.py)
ANSWERS = {  # how the receiver answers → what the delivery log says
    "404": "HTTP 404",
    "500": "HTTP 500",
    "close": "ConnectionError",
    "trickle": "no complete answer within 5 s",
}


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_a_failing_team_webhook_fails_alone_after_its_attempts(  # type: ignore[no-untyped-def]
    answer, celery_worker, notify_settings, personas, make_model, smtp_server, webhook_receiver
):
    name = make_model([0.85, 0.86])
    url = webhook_receiver.url("search-broken", answer=answer)
    secret = url.rsplit("/services/", 1)[1]
    hook = TeamWebhook.objects.create(team=Team.objects.get(name="search"), url=url)
    first = last_notification_id()
    start = time.monotonic()
    approvals.approval_request_create(actor=personas["member_search"], model_name=name, version=2)

    rows = wait_delivered(notification_ids_since(first), timeout=90)
    elapsed = time.monotonic() - start
    team_row = next(n for n in rows.values() if n.recipient == f"team:{hook.team_id}")
    assert team_row.state == DeliveryState.FAILED and team_row.attempts == ATTEMPTS
    assert ANSWERS[answer] in team_row.last_error and secret not in team_row.last_error
    posts = webhook_receiver.posts_to(url)
    assert len(posts) == ATTEMPTS and len({p["headers"]["Idempotency-Key"] for p in posts}) == 1
    assert elapsed < ATTEMPTS * (WORKER_WEBHOOK_TIMEOUT + 2) + 10, elapsed  # no attempt outlives its timeout
    others = [n for n in rows.values() if n.pk != team_row.pk]
    assert others and {n.state for n in others} == {DeliveryState.SENT}  # email and global webhook: once each
    subject = f"Approval requested: {name}/2"
    assert mails_about(smtp_server.messages(), name).count(("lead_search@example.com", subject)) == 1
    global_posts = [
        p for p in webhook_receiver.posts_to(notify_settings.NOTIFY_WEBHOOK_URL) if name in p["json"]["text"]
    ]
    assert len(global_posts) == 1
    failed = AuditEvent.objects.get(action="notification.failed", target_id=str(team_row.pk))
    assert secret not in str(failed.after) + failed.reason


def test_a_slow_receiver_that_answers_after_the_timeout_gets_the_message_once(  # type: ignore[no-untyped-def]
    extra_worker, notify_settings, personas, webhook_receiver
):
    """A receiver that reads the post at once but answers after the attempt's timeout (Slack on a bad
    day) had the message, yet every retry posted it again and the row ended failed: 3 identical posts.
    The late answer is taken: the row is sent, and the retry already queued finds nothing to do."""
    from notifications.services import Event, notify

    extra_worker.start(NOTIFY_WEBHOOK_TIMEOUT="2", NOTIFY_RETRY_DELAY="6", NOTIFY_MAX_RETRIES="2")
    search = Team.objects.get(name="search")
    url = webhook_receiver.url("search-slow", answer="slow:3.5")
    hook = TeamWebhook.objects.create(team=search, url=url)
    ids = notify(Event(kind="model.promoted", key=f"slow:{time.time()}", subject="s", lines=[], link="/", team=search))
    rows = wait_delivered(ids, timeout=90)
    team_row = next(n for n in rows.values() if n.recipient == f"team:{hook.team_id}")
    time.sleep(8)  # the retry queued after the first attempt's timeout has come and gone
    team_row.refresh_from_db()
    assert (team_row.state, team_row.attempts, team_row.last_error) == (DeliveryState.SENT, 1, "")
    assert len(webhook_receiver.posts_to(url)) == 1
    assert not AuditEvent.objects.filter(action="notification.failed", target_id=str(team_row.pk)).exists()
