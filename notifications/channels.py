"""Delivery channels. A channel turns a Notification into the target's format (escaping user text for
it) and sends it; a failure raises DeliveryFailed with a message that carries no secret. Adding a
channel: subclass Channel, implement `recipients` and `send`, add it to CHANNELS."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connections
from django.utils import timezone

from configuration.selectors import notification_targets
from mlopsadmin.lib import http
from mlopsadmin.lib.redaction import register_secret, scrub, webhook_url_secrets
from notifications.models import DeliveryState, Notification, TeamWebhook

GLOBAL_WEBHOOK = "global"
# How long a timed-out attempt still waits for the receiver's answer (its thread lives that long): until the
# first retry is due, at most this.
LATE_ANSWER_MAX_SECONDS = 120.0
WEBHOOK_URL_REDACTED = "[webhook URL redacted]"


class DeliveryFailed(Exception):
    """Sending failed; the message is safe to log, store and show (no URL path, no password). `permanent`:
    no retry can help (the webhook was removed or disabled): the row fails at once."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


# --- Formats ------------------------------------------------------------------------------------------
def mrkdwn_escape(text: str) -> str:
    """Slack mrkdwn: `&`, `<`, `>` escaped, so `<!channel>` and `<url|label>` in user text stay inert."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut in the middle ("…"): a subject's end says what happened
    ("…: @champion → v3", "…/2"), its start which model; a 256-character model name would push the end
    out of a plain cut, and every message about that model would read the same."""
    if len(text) <= limit:
        return text
    tail = min(80, (limit - 1) // 2)
    return text[: limit - 1 - tail] + "…" + text[len(text) - tail :]


def one_line(text: str, limit: int = 200) -> str:
    """A header-safe line (email subject): no CR/LF or other control characters, at most `limit` chars
    (shortened in the middle)."""
    return shorten(re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip(), limit)


def webhook_text(notification: Notification) -> str:
    lines = [f"*{mrkdwn_escape(one_line(notification.subject))}*"]
    lines += [mrkdwn_escape(line) for line in notification.lines]
    if notification.link:
        lines.append(f"<{mrkdwn_escape(notification.link)}|Open in mlopsadmin>")
    return "\n".join(lines)


def email_body(notification: Notification) -> str:
    """Plain text: each message line, its own line breaks (a comment of several lines) indented under it,
    so user text never starts a line of the message's own (a forged "Open in mlopsadmin: …" or signature)."""
    body = "\n".join("\n    ".join(line.splitlines() or [""]) for line in notification.lines)
    if notification.link:
        body += f"\n\nOpen in mlopsadmin: {notification.link}"
    return body + "\n\n-- \nmlopsadmin notifications. Watching a model? Unwatch it on the model's page.\n"


# --- Secrets in webhook URLs ------------------------------------------------------------------------
def redact_url(url: str) -> str:
    """What may be shown of a webhook URL: scheme and host only (for Slack the path is the secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/…" if parts.scheme else "(not a URL)"


def same_address(a: str, b: str) -> bool:
    """Whether two webhook URLs reach the same receiver: scheme and host in any case, a default port
    written or not (https://Hooks.example.com:443/x is https://hooks.example.com/x); the path exactly."""

    def key(url: str) -> tuple[str, str, int | None, str]:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        try:
            port = parts.port
        except ValueError:
            port = None
        port = None if port == {"http": 80, "https": 443}.get(scheme) else port
        return scheme, (parts.hostname or "").lower(), port, parts.path + (f"?{parts.query}" if parts.query else "")

    return key(a) == key(b)


def redact_error(text: str, url: str) -> str:
    for value in webhook_url_secrets(url):
        text = text.replace(value, WEBHOOK_URL_REDACTED)
    return scrub(text)[:1000]


# --- Channels ----------------------------------------------------------------------------------------
class Channel:
    name = ""

    def recipients(
        self, *, emails: Iterable[str], team_id: int | None, targets: dict[str, Any] | None = None
    ) -> list[str]:
        raise NotImplementedError

    def describe(self, recipient: str) -> str:
        return recipient

    def send(self, notification: Notification) -> None:
        raise NotImplementedError


class EmailChannel(Channel):
    """One email per address, through Django's configured backend (SMTP, file, console)."""

    name = "email"

    def recipients(
        self, *, emails: Iterable[str], team_id: int | None, targets: dict[str, Any] | None = None
    ) -> list[str]:
        return sorted({e.strip().lower() for e in emails if e and "@" in e})

    def send(self, notification: Notification) -> None:
        domain = (urlsplit(settings.SITE_URL).hostname or "mlopsadmin").strip(".")
        try:  # opening the backend fails too (file backend: the folder cannot be created or written)
            message = EmailMessage(
                subject=one_line(notification.subject),
                body=email_body(notification),
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[notification.recipient],
                # the same Message-ID on every attempt: a mail system can drop a duplicate
                headers={"Message-ID": f"<{notification.idempotency_key}@{domain}>"},
                connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
            )
            sent = message.send(fail_silently=False)
        except Exception as exc:  # smtplib, socket, file backend errors: all mean "not sent"
            raise DeliveryFailed(scrub(f"{type(exc).__name__}: {exc}")[:1000]) from None
        if sent != 1:
            raise DeliveryFailed("The email backend accepted no message (nothing was sent).")


class WebhookChannel(Channel):
    """A Slack-compatible incoming webhook: POST {"text": mrkdwn} with an Idempotency-Key header."""

    name = "webhook"

    def recipients(
        self, *, emails: Iterable[str], team_id: int | None, targets: dict[str, Any] | None = None
    ) -> list[str]:
        targets = targets if targets is not None else notification_targets()  # read once by the caller
        global_url = str(targets["webhook_url"] or "")
        found = [GLOBAL_WEBHOOK] if global_url else []
        hooks = TeamWebhook.objects.filter(team_id=team_id, enabled=True) if team_id else TeamWebhook.objects.none()
        team_url = hooks.values_list("url", flat=True).first()
        if team_url and not (global_url and same_address(team_url, global_url)):
            found.append(f"team:{team_id}")  # a team hook that IS the global one would post everything twice
        return found

    def url_for(self, recipient: str) -> str:
        if recipient == GLOBAL_WEBHOOK:
            return str(notification_targets()["webhook_url"] or "")
        hook = TeamWebhook.objects.filter(team_id=int(recipient.split(":", 1)[1]), enabled=True).first()
        return hook.url if hook else ""

    def describe(self, recipient: str) -> str:
        url = self.url_for(recipient)
        where = "global webhook" if recipient == GLOBAL_WEBHOOK else f"webhook of {recipient.replace(':', ' #')}"
        return f"{where} ({redact_url(url)})" if url else f"{where} (removed)"

    def send(self, notification: Notification) -> None:
        url = self.url_for(notification.recipient)
        if not url:
            raise DeliveryFailed("The webhook was removed or disabled.", permanent=True)
        for value in webhook_url_secrets(url):
            register_secret(value)  # library log lines (urllib3 at DEBUG) never show it either
        try:
            status = http.post_json(
                url,
                {"text": webhook_text(notification)},
                headers={"Idempotency-Key": notification.idempotency_key},
                timeout=settings.NOTIFY_WEBHOOK_TIMEOUT,
                # an answer until the first retry is due still counts (the retry then has nothing to do)
                late=partial(late_answer, notification.pk, notification.attempts),
                late_within=min(settings.NOTIFY_RETRY_DELAY, LATE_ANSWER_MAX_SECONDS),
            )
        except http.HttpError as exc:
            raise DeliveryFailed(redact_error(str(exc), url)) from None
        if not 200 <= status < 300:
            raise DeliveryFailed(f"The webhook answered HTTP {status} ({redact_url(url)}).")


def late_answer(notification_id: int, attempt: int, status: int) -> None:
    """A webhook attempt that timed out was answered after all (called from the attempt's own thread): a 2xx
    means the receiver has the message, so the row is sent, unless another attempt has claimed it since.
    Its retry, already queued, then finds nothing to claim: a slow receiver gets the message once, not once
    per attempt. A late answer after the final attempt's failure changes nothing (failed, audited)."""
    if not 200 <= status < 300:
        return
    try:
        now = timezone.now()
        Notification.objects.filter(
            pk=notification_id, attempts=attempt, state__in=[DeliveryState.SENDING, DeliveryState.PENDING]
        ).update(state=DeliveryState.SENT, sent_at=now, last_error="", updated_at=now)
    finally:
        connections.close_all()  # this thread's own connections (Django's are per thread)


CHANNELS: dict[str, Channel] = {c.name: c for c in (EmailChannel(), WebhookChannel())}
