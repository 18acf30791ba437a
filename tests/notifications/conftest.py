"""Helpers of the notification tests: waiting for deliveries, reading what the SMTP server and the
webhook receiver got. The servers and the worker are the shared session fixtures of tests/servers.py."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from tests.promotion.conftest import fast_timeouts, make_model  # noqa: F401 - shared fixtures
from tests.servers import WORKER_SITE_URL


def wait_delivered(ids: Iterable[int], *, timeout: float = 60.0) -> dict[int, Any]:
    """Wait until every notification is sent or failed; returns them by id (test helper, no timing)."""
    from notifications.models import DeliveryState, Notification

    wanted = set(ids)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = {n.pk: n for n in Notification.objects.filter(pk__in=wanted)}
        if len(rows) == len(wanted) and all(
            n.state in (DeliveryState.SENT, DeliveryState.FAILED) for n in rows.values()
        ):
            return rows
        time.sleep(0.2)
    log = os.environ.get("MLOPSADMIN_TEST_WORKER_LOG")
    tail = Path(log).read_text()[-4000:] if log else ""
    states = list(Notification.objects.filter(pk__in=wanted).values_list("pk", "state", "last_error"))
    raise AssertionError(f"notifications not finished after {timeout} s: {states}\n{tail}")


def last_notification_id() -> int:
    """The newest Notification id now (0 when there is none): mark before an action, then read what it made."""
    from notifications.models import Notification

    return Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def notification_ids_since(
    first_id: int, *, events: Mapping[str, int] | None = None, timeout: float = 60.0
) -> list[int]:
    """Ids of the notifications recorded after `first_id`. `events` {kind: how many events of that kind}: the
    events a worker records (an alias change's, notifications.deferred), waited for until that many of each
    are recorded (each event's rows are recorded together)."""
    from notifications.models import Notification

    deadline = time.monotonic() + timeout
    while True:
        rows = list(Notification.objects.filter(pk__gt=first_id).values_list("pk", "event", "event_key"))
        keys: dict[str, set[str]] = {}
        for _, kind, key in rows:
            keys.setdefault(kind, set()).add(key)
        if all(len(keys.get(kind, ())) >= n for kind, n in (events or {}).items()) or time.monotonic() > deadline:
            return [pk for pk, _, _ in rows]
        time.sleep(0.2)


def subject(message: Message) -> str:
    return str(make_header(decode_header(str(message["Subject"]))))


def mails_about(messages: list[Message], text: str) -> list[tuple[str, str]]:
    """(To, Subject) of every email whose subject mentions `text`."""
    return [(str(m["To"]), subject(m)) for m in messages if text in subject(m)]


@pytest.fixture
def notify_settings(settings: Any, personas: dict[str, Any], webhook_receiver: Any) -> Any:
    """The test process builds notifications as the worker would send them: same SITE_URL, same global
    webhook, no extra email list."""
    from tests.servers import WORKER_GLOBAL_HOOK_PATH

    settings.SITE_URL = WORKER_SITE_URL
    settings.NOTIFY_EMAILS = []
    settings.NOTIFY_WEBHOOK_URL = webhook_receiver.base + WORKER_GLOBAL_HOOK_PATH
    return settings
