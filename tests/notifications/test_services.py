"""Notification rules that need no worker: SMTP settings from the environment, start-up checks,
capacity alerts once per crossing, idempotency, Slack escaping, redaction, the watch button."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from django.urls import reverse

from maintenance import task_runs
from maintenance.capacity.check import _capacity_alert
from maintenance.capacity.thresholds import levels
from maintenance.models import TaskKind, TaskRun, TaskState
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib.mlflow_server import free_port
from notifications import checks
from notifications.channels import webhook_text
from notifications.models import DeliveryState, ModelWatch, Notification
from notifications.services import Event, notification_deliver, notify

ROOT = Path(__file__).resolve().parents[2]


def _settings_in_a_fresh_process(env: dict[str, str], code: str) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    script = "import django; django.setup(); from django.conf import settings as s; " + code
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**base, "DJANGO_SETTINGS_MODULE": "mlopsadmin.settings", "SECRET_KEY": "x" * 50, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_smtp_is_configured_from_the_environment_and_the_file_backend_sends(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {
        "EMAIL_HOST": "smtp.internal",
        "EMAIL_PORT": "587",
        "EMAIL_USE_TLS": "true",
        "EMAIL_HOST_USER": "mailer",
        "EMAIL_HOST_PASSWORD": "pw-0123456789",
        "EMAIL_TIMEOUT": "7",
    }
    shown = _settings_in_a_fresh_process(
        env, "print(s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS, s.EMAIL_USE_SSL, s.EMAIL_HOST_USER, s.EMAIL_TIMEOUT)"
    )
    assert shown == "smtp.internal 587 True False mailer 7"
    outbox = tmp_path / "mail"
    file_env = {"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": str(outbox)}
    _settings_in_a_fresh_process(
        file_env, "from django.core.mail import send_mail; send_mail('hello', 'body', None, ['a@example.com'])"
    )
    assert "Subject: hello" in "".join(p.read_text() for p in outbox.iterdir())


def test_startup_checks_report_wrong_mail_and_link_settings(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = checks.SMTP_BACKEND
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = True
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "mailer", ""
    assert {e.id for e in checks.check_email(None)} == {"mlopsadmin.E020", "mlopsadmin.E022"}
    settings.EMAIL_BACKEND = checks.FILE_BACKEND
    settings.EMAIL_FILE_PATH = str(tmp_path / "missing" / "deeper")
    assert [e.id for e in checks.check_email(None)] == ["mlopsadmin.E023"]
    settings.SITE_URL, settings.NOTIFY_WEBHOOK_URL = "mlopsadmin.internal", "ftp://hooks/T0/B0/secret-part"
    problems = checks.check_notification_links(None)
    assert [e.id for e in problems] == ["mlopsadmin.E024", "mlopsadmin.E025"]
    assert "secret-part" not in str([e.msg for e in problems])


def _capacity_check(level: str, settings) -> TaskRun:  # type: ignore[no-untyped-def]
    """A finished capacity check at `level`; "unknown": a store could not be read (S3 down), nothing measured."""
    run = TaskRun.objects.create(kind=TaskKind.CAPACITY, state=TaskState.RUNNING, started_by="system:schedule.capacity")
    size = {"ok": 10, "warning": 5000, "critical": 10**10, "unknown": None}[level]
    found = levels(size, 10)
    assert found["level"] == level
    if found["warning"]:
        _capacity_alert(run, found, size, 10)
    task_runs.task_run_finish(run, state=TaskState.SUCCEEDED, report={"level": found["level"]})
    return run


def test_capacity_notifies_once_per_crossing_not_on_every_check(db, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MAINTENANCE_ARTIFACT_WARNING_BYTES, settings.MAINTENANCE_ARTIFACT_CRITICAL_BYTES = 1000, 10**9
    settings.NOTIFY_EMAILS = ["ops@example.com"]
    for level in ("warning", "warning", "warning", "critical", "critical"):
        _capacity_check(level, settings)
    events = list(Notification.objects.filter(recipient="ops@example.com").values_list("event", flat=True))
    assert sorted(events) == ["capacity.critical", "capacity.warning"]
    assert AuditEvent.objects.filter(action="capacity.alert").count() == 5  # every finding stays audited


def test_a_capacity_check_that_could_not_measure_is_no_crossing(db, settings) -> None:  # type: ignore[no-untyped-def]
    """A store that cannot be read for a while (level unknown) neither ends nor starts a crossing: the
    level it is compared with is the last one measured."""
    settings.MAINTENANCE_ARTIFACT_WARNING_BYTES, settings.MAINTENANCE_ARTIFACT_CRITICAL_BYTES = 1000, 10**9
    settings.NOTIFY_EMAILS = ["ops@example.com"]
    for level in ("warning", "unknown", "warning", "unknown", "unknown", "warning", "ok", "unknown", "warning"):
        _capacity_check(level, settings)
    for level in ("critical", "unknown", "critical"):
        _capacity_check(level, settings)
    events = list(Notification.objects.filter(recipient="ops@example.com").values_list("event", flat=True))
    assert sorted(events) == ["capacity.critical", "capacity.warning", "capacity.warning"]  # 2nd: after "ok"


def test_an_event_twice_is_one_notification_and_a_sent_one_is_never_sent_again(db, settings, mailoutbox) -> None:  # type: ignore[no-untyped-def]
    settings.NOTIFY_EMAILS, settings.NOTIFY_WEBHOOK_URL = ["ops@example.com"], ""
    event = Event(
        kind="task.failed", key="task.failed:42", subject="Task failed", lines=["x"], link="/x", audience="ops"
    )
    first, again = notify(event), notify(event)
    assert len(first) == 1 and again == []
    assert notification_deliver(notification_id=first[0], final=False) == "sent"
    assert notification_deliver(notification_id=first[0], final=False) == "not claimed"  # a re-sent message
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["ops@example.com"]
    assert Notification.objects.get(pk=first[0]).state == DeliveryState.SENT


def test_slack_text_escapes_user_text_and_links_back() -> None:
    row = Notification(
        subject="Approval <!here>", lines=["Comment: <!channel> <http://x|y> & z"], link="http://s/a?b&c"
    )
    assert webhook_text(row) == (
        "*Approval &lt;!here&gt;*\nComment: &lt;!channel&gt; &lt;http://x|y&gt; &amp; z\n"
        "<http://s/a?b&amp;c|Open in mlopsadmin>"
    )


def test_a_failing_webhook_never_puts_its_url_in_a_log_line_or_the_record(db, settings, caplog) -> None:  # type: ignore[no-untyped-def]
    secret = "T0SECRET/B0SECRET/abcdef0123456789"
    settings.NOTIFY_EMAILS, settings.NOTIFY_WEBHOOK_URL = [], f"http://127.0.0.1:{free_port()}/services/{secret}"
    settings.NOTIFY_WEBHOOK_TIMEOUT = 2
    ids = notify(Event(kind="task.failed", key="task.failed:7", subject="s", lines=[], link="", audience="ops"))
    caplog.set_level(logging.DEBUG)
    assert notification_deliver(notification_id=ids[0], final=True) == "failed"
    row = Notification.objects.get(pk=ids[0])
    assert row.state == DeliveryState.FAILED and "[webhook URL redacted]" in row.last_error
    lines = [r.getMessage() for r in caplog.records]
    assert any("failed" in line for line in lines) and not [line for line in lines if secret in line]
    assert secret not in str(AuditEvent.objects.get(action="notification.failed").after)


def test_watch_button_on_the_model_page_is_audited(mlflow, login, personas) -> None:  # type: ignore[no-untyped-def]
    client = login("member_fraud")
    page = client.get(reverse("registry:model", args=["search-ranker"])).content.decode()
    assert reverse("notifications:watch", args=["search-ranker"]) in page and ">Watch<" in page
    assert client.post(reverse("notifications:watch", args=["search-ranker"]), {"watch": "on"}).status_code == 302
    assert ModelWatch.objects.filter(user=personas["member_fraud"], model_name="search-ranker").exists()
    assert ">Unwatch<" in client.get(reverse("registry:model", args=["search-ranker"])).content.decode()
    assert AuditEvent.objects.filter(action="model.watch", target_id="search-ranker").count() == 1
    assert (
        login("auditor").post(reverse("notifications:watch", args=["search-ranker"]), {"watch": "on"}).status_code
        == 403
    )


def test_the_requeue_sweep_leaves_a_row_waiting_for_its_retry_alone(db, settings) -> None:  # type: ignore[no-untyped-def]
    """Only what no queued message will deliver is queued again: a row never queued (broker down) or whose
    retry is long overdue; a row whose next retry is still to come (a long NOTIFY_RETRY_DELAY) is left to it,
    so it never gets a second chain of attempts."""
    from datetime import timedelta

    from django.utils import timezone

    from notifications.services import notifications_requeue

    settings.NOTIFY_EMAILS, settings.NOTIFY_WEBHOOK_URL = ["a@example.com", "b@example.com", "c@example.com"], ""
    settings.NOTIFY_RETRY_DELAY, settings.NOTIFY_MAX_RETRIES = 300, 5  # retries after 5, 10, 20, 40, 80 min
    never, waiting, overdue = notify(Event(kind="task.failed", key="task.failed:sweep", subject="s", lines=[], link=""))
    ago = timezone.now() - timedelta(minutes=15)
    Notification.objects.filter(pk=never).update(updated_at=ago)  # never queued: the broker was down
    Notification.objects.filter(pk=waiting).update(updated_at=ago, attempts=3)  # its retry is due in 5 min
    Notification.objects.filter(pk=overdue).update(updated_at=ago - timedelta(hours=2), attempts=3)
    assert sorted(notifications_requeue()) == [never, overdue]


def test_watching_a_name_that_is_no_model_name_is_refused_and_changes_nothing(login, personas) -> None:  # type: ignore[no-untyped-def]
    client = login("lead_search")
    for name in ["x" * 300, "..", "a:b"]:  # never silently another name (cut to 256 characters before)
        response = client.post(reverse("notifications:watch", args=[name]), {"watch": "on"})
        assert response.status_code == 400, (name, response.status_code)
    assert not ModelWatch.objects.exists() and not AuditEvent.objects.filter(action="model.watch").exists()
    client.post(reverse("notifications:watch", args=[" spaced"]), {"watch": "on"})  # a name MLflow accepts
    assert list(ModelWatch.objects.values_list("model_name", flat=True)) == [" spaced"]  # as typed, not trimmed


def test_a_link_to_a_model_with_a_very_long_name_is_kept_whole(db, settings) -> None:  # type: ignore[no-untyped-def]
    """A model name of 256 non-ASCII characters (MLflow's limit) is 2,300 characters once percent-encoded in
    a link: the link back in its emails and Slack posts must be the whole address, not its first 1,000
    characters (a page that does not exist)."""
    from notifications import events

    settings.SITE_URL, settings.NOTIFY_EMAILS, settings.NOTIFY_WEBHOOK_URL = "http://s.test", ["a@example.com"], ""
    name = "模型" * 128
    events.alias_external(name, before={"champion": "1"}, after={"champion": "2"})
    row = Notification.objects.get(event="model.alias_external")
    assert row.link == "http://s.test" + reverse("promotion:aliases", args=[name])
    assert row.model_name == name


def test_a_very_long_model_name_leaves_the_subject_saying_what_happened(db, settings, mailoutbox) -> None:  # type: ignore[no-untyped-def]
    """Email subjects and the Slack headline are cut to 200 characters; with a 256-character model name a
    plain cut kept only the name, so every message about that model had the same subject whatever happened
    (promoted, rolled back, changed outside). The name is shortened in the middle instead."""
    from notifications import events
    from notifications.channels import webhook_text

    settings.NOTIFY_EMAILS, settings.NOTIFY_WEBHOOK_URL = ["a@example.com"], ""
    name = "fraud-" + "x" * 240 + "-end"
    events.alias_external(name, before={"champion": "1"}, after={"champion": "2"})
    row = Notification.objects.get(event="model.alias_external")
    assert notification_deliver(notification_id=row.pk, final=True) == "sent"
    shown = mailoutbox[0].subject
    assert len(shown) <= 200 and shown.startswith("fraud-xxx")
    assert shown.endswith("-end: aliases changed outside mlopsadmin")
    assert "…" in shown
    assert webhook_text(row).split("\n")[0] == f"*{shown}*"
    assert name in mailoutbox[0].body  # the body keeps the whole name


def test_a_comment_cannot_forge_the_link_back_in_an_email(db, settings, mailoutbox) -> None:  # type: ignore[no-untyped-def]
    """Email is plain text: user text is not escaped, but a comment of several lines could write a line of
    its own 'Open in mlopsadmin: http://evil…' that reads as the message's link back (the Slack text escapes
    its `<url|label>` form). Every line of user text after its first is indented under it."""
    settings.SITE_URL, settings.NOTIFY_EMAILS, settings.NOTIFY_WEBHOOK_URL = "http://s.test", ["a@example.com"], ""
    forged = "fine\n\nOpen in mlopsadmin: http://evil.example/login\r\n-- \nmlopsadmin notifications."
    ids = notify(
        Event(kind="approval.decided", key="forge", subject="s", lines=["Decided.", f"Comment: {forged}"], link="/x")
    )
    assert notification_deliver(notification_id=ids[0], final=True) == "sent"
    body = mailoutbox[0].body
    at_start = [line for line in body.splitlines() if line.startswith("Open in mlopsadmin")]
    assert at_start == ["Open in mlopsadmin: http://s.test/x"], body
    assert "http://evil.example/login" in body  # shown, as the comment's text
    assert body.splitlines().count("-- ") == 1


def test_a_sender_address_that_cannot_send_is_reported_at_start_up(settings) -> None:  # type: ignore[no-untyped-def]
    """DEFAULT_FROM_EMAIL was not checked: empty or 'ops@@corp' made every email fail (ValueError 'Invalid
    address' on each attempt, all lost after the retries), 'MLOps Admin' was sent as MAIL FROM:<"MLOps
    Admin">, which SMTP servers refuse. Found at start-up now, like the other mail settings."""
    settings.EMAIL_BACKEND = checks.SMTP_BACKEND
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    for wrong in ("", "MLOps Admin", "ops@@corp.example", "ops@corp.example\nBcc: x@evil.example"):
        settings.DEFAULT_FROM_EMAIL = wrong
        assert [e.id for e in checks.check_email(None)] == ["mlopsadmin.E030"], wrong
    for right in ("mlopsadmin@localhost", "ops@corp.example", "MLOps Admin <ops@corp.example>"):
        settings.DEFAULT_FROM_EMAIL = right
        assert checks.check_email(None) == [], right
