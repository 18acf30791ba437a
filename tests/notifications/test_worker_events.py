"""Events raised inside tasks the real Celery worker runs (a capacity check, the checklist schedule) are
delivered by it on every channel exactly once, like events raised by a page: a second check at the same
level tells nobody again. (The worker warns at 1 byte of artifacts.)"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest

from checklists.selectors import overdue_instances
from checklists.services import instances_ensure
from checklists.tasks import checklist_instances_scheduled
from maintenance.capacity.check import capacity_check_start
from maintenance.models import TaskState
from mlopsadmin.lib import mlflow_client as mlf
from notifications.models import DeliveryState, Notification
from tests.maintenance.conftest import wait_task
from tests.notifications.conftest import mails_about, wait_delivered

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _delivered(event: str, expected: int) -> list[Notification]:
    rows = list(Notification.objects.filter(event=event))
    assert len({n.event_key for n in rows}) == expected, [n.event_key for n in rows]
    done = wait_delivered([n.pk for n in rows])
    assert {n.state for n in done.values()} == {DeliveryState.SENT}
    return rows


def test_events_raised_on_the_worker_are_delivered_once(  # type: ignore[no-untyped-def]
    celery_worker, notify_settings, personas, smtp_server, webhook_receiver, mlflow, tmp_path
):
    store = tmp_path / "store"
    (store / "run1").mkdir(parents=True)
    (store / "run1" / "model.pkl").write_bytes(b"a" * 100)  # measured: above the worker's 1-byte warning
    mlf.create_experiment(f"/search-team/notify-{uuid.uuid4().hex[:8]}/capacity", artifact_location=store.as_uri())
    first = wait_task(capacity_check_start(actor=personas["operator"]).pk, timeout=180)
    assert first.state == TaskState.SUCCEEDED, first.errors
    second = wait_task(capacity_check_start(actor=personas["operator"]).pk, timeout=180)
    assert first.report["level"] in ("warning", "critical"), first.report
    assert second.state == TaskState.SUCCEEDED and second.report["level"] == first.report["level"]
    _delivered(f"capacity.{first.report['level']}", expected=1)  # the crossing, not the second check
    subject = f"Capacity {first.report['level']}"
    global_posts = webhook_receiver.posts_to(notify_settings.NOTIFY_WEBHOOK_URL)
    assert len([p for p in global_posts if f"check #{first.pk} crossed" in p["json"]["text"]]) == 1
    assert len(mails_about(smtp_server.messages(), subject)) >= 1
    assert not [p for p in global_posts if f"check #{second.pk} crossed" in p["json"]["text"]]

    instances_ensure(today=dt.date(2020, 1, 8))  # a week and a month long past, never signed off
    overdue = len(overdue_instances())
    checklist_instances_scheduled.delay()
    deadline = time.monotonic() + 60
    while Notification.objects.filter(event="checklist.overdue", channel="webhook").count() < overdue:
        assert time.monotonic() < deadline, "the worker did not record the overdue checklists"
        time.sleep(0.3)
    assert overdue >= 2
    _delivered("checklist.overdue", expected=overdue)
