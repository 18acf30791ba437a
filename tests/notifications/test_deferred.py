"""Issue 20: the notification of an alias change is recorded by a worker once the change is committed,
off the request path (the promotion answered only after reading recipients, checking keys, inserting rows
and queueing one task per row), and still exactly once: a message delivered twice records nothing new."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mlopsadmin.core.selectors import team_for_model
from notifications.models import DeliveryState, Notification
from registry_ui.promotion import services as promotion
from tests.notifications.conftest import mails_about, wait_delivered

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _recorded(name: str, *, timeout: float = 60.0) -> list[Notification]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = list(Notification.objects.filter(model_name=name, event="model.promoted"))
        if rows:
            return rows
        time.sleep(0.2)
    raise AssertionError(f"no model.promoted notification of {name} after {timeout} s")


def test_a_promotion_records_its_notification_off_the_request_path_exactly_once(  # type: ignore[no-untyped-def]
    celery_worker, notify_settings, personas, make_model, smtp_server
):
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    lead = personas["lead_search"]
    with CaptureQueriesContext(connection) as queries:
        promotion.alias_promote(model_name=name, actor=lead)
    touched = [q["sql"][:120] for q in queries.captured_queries if "notifications_" in q["sql"]]
    assert not touched, touched  # before: recipients read, keys checked and rows inserted in the request

    rows = _recorded(name)
    delivered = wait_delivered([r.pk for r in rows])
    assert {n.state for n in delivered.values()} == {DeliveryState.SENT}
    event_keys = {r.event_key for r in rows}
    assert len(event_keys) == 1
    mails = mails_about(smtp_server.messages(), name)
    assert mails and len(mails) == len(set(mails)), mails  # each recipient told once
    assert not any(to == lead.email for to, _ in mails)  # the actor is not told of their own action

    row = rows[0]
    again = {  # the same message delivered a second time (acks_late redelivery)
        "kind": row.event,
        "key": row.event_key,
        "subject": row.subject,
        "lines": row.lines,
        "link": f"/registry/models/{name}/aliases/",
        "team_id": team_for_model(name).pk,
        "model_name": name,
        "people": [],
        "audience": "team",
        "actor_id": lead.pk,
    }
    from notifications import deferred  # noqa: PLC0415 - the module this test brought in (issue 20)

    assert deferred.event_record(event=again) == 0
    assert Notification.objects.filter(model_name=name, event="model.promoted").count() == len(rows)
