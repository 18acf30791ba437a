"""One delivery attempt against a misbehaving target, at the level of the delivery service: whatever the
channel raises is a failed attempt (retried, then failed, audited and shown), never a row stuck in
`sending`; a webhook attempt ends within NOTIFY_WEBHOOK_TIMEOUT however the receiver dribbles its answer;
no form of a webhook URL's secret part (as typed, percent-encoded, normalised) reaches a stored error, an
audit event or any log line."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from urllib.parse import quote, unquote

import pytest

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib.mlflow_server import free_port
from notifications.channels import DeliveryFailed
from notifications.models import DeliveryState, Notification
from notifications.services import Event, notification_deliver, notify

FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"


def _ops_event(key: str) -> list[int]:
    return notify(Event(kind="task.failed", key=key, subject="Task failed", lines=["x"], link="/x", audience="ops"))


def test_the_file_backend_writes_a_notification_and_a_broken_folder_is_a_failed_attempt(db, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND, settings.EMAIL_FILE_PATH = FILE_BACKEND, str(tmp_path / "mail")
    settings.NOTIFY_EMAILS, settings.NOTIFY_WEBHOOK_URL = ["ops@example.com"], ""
    sent = _ops_event("task.failed:file-ok")
    assert notification_deliver(notification_id=sent[0], final=False) == "sent"
    written = [message_from_bytes(p.read_bytes()) for p in (tmp_path / "mail").iterdir()]
    assert [(m["To"], m["Subject"]) for m in written] == [("ops@example.com", "Task failed")]

    (tmp_path / "not-a-folder").write_text("a file where the mail folder should be")
    settings.EMAIL_FILE_PATH = str(tmp_path / "not-a-folder")
    ids = _ops_event("task.failed:file-broken")
    with pytest.raises(DeliveryFailed, match="not a directory"):
        notification_deliver(notification_id=ids[0], final=False)  # the task retries it
    assert Notification.objects.get(pk=ids[0]).state == DeliveryState.PENDING
    assert notification_deliver(notification_id=ids[0], final=True) == "failed"
    row = Notification.objects.get(pk=ids[0])
    assert row.state == DeliveryState.FAILED and row.attempts == 2 and "not a directory" in row.last_error
    assert AuditEvent.objects.filter(action="notification.failed", target_id=str(row.pk)).count() == 1


@pytest.fixture
def dribbling_receiver() -> Iterator[str]:
    """A raw HTTP server that answers one byte a second (status line first): a complete answer in ~40 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=_dribble, args=(conn, stop), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/services/T0DRIBBLE/B0DRIBBLE/slowsecret0123"
    stop.set()
    server.join(timeout=5)  # the accept loop ends before its socket is closed (no accept on a closed socket)
    listener.close()


def _dribble(conn: socket.socket, stop: threading.Event) -> None:
    with conn:
        conn.recv(65536)
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
            if stop.wait(1):
                return
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                return


def test_a_dribbling_webhook_attempt_ends_within_its_timeout(db, settings, dribbling_receiver) -> None:  # type: ignore[no-untyped-def]
    settings.NOTIFY_EMAILS, settings.NOTIFY_WEBHOOK_URL = [], dribbling_receiver
    settings.NOTIFY_WEBHOOK_TIMEOUT = 2
    ids = _ops_event("task.failed:dribble")
    start = time.monotonic()
    assert notification_deliver(notification_id=ids[0], final=True) == "failed"
    assert time.monotonic() - start < 4
    row = Notification.objects.get(pk=ids[0])
    assert "no complete answer within 2 s" in row.last_error and "slowsecret0123" not in row.last_error


@pytest.mark.parametrize("secret", ["T0/B0/se cret part", "T0/B0/sécret-pärt", "T0/B0/s%7Ecret-part", "q?token=a b+c"])
def test_no_form_of_a_webhook_secret_reaches_a_record_or_a_log_line(db, settings, caplog, secret) -> None:  # type: ignore[no-untyped-def]
    url = f"http://127.0.0.1:{free_port()}/hooks/{secret}"  # nothing listens: the error names the request
    settings.NOTIFY_EMAILS, settings.NOTIFY_WEBHOOK_URL, settings.NOTIFY_WEBHOOK_TIMEOUT = [], url, 2
    ids = _ops_event(f"task.failed:leak:{secret}")
    caplog.set_level(logging.DEBUG)
    assert notification_deliver(notification_id=ids[0], final=True) == "failed"
    tail = secret.split("/")[-1].split("=")[-1]
    forms = {tail, quote(tail), quote(unquote(tail)), unquote(tail), quote(tail, safe="~")} - {""}
    row = Notification.objects.get(pk=ids[0])
    audit = AuditEvent.objects.get(action="notification.failed", target_id=str(row.pk))
    stored = [row.last_error, str(audit.after), audit.reason] + [r.getMessage() for r in caplog.records]
    assert row.last_error and not [(f, s) for f in forms for s in stored if f in s]
