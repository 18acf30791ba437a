"""Start-up checks of the notification settings (ids mlopsadmin.E020…E030): a wrong SMTP or webhook
setting is reported when the process starts, not when the first notification is lost."""

from __future__ import annotations

import os
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"


def _http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def _sender_address(value: str) -> bool:
    """'ops@corp.example' or 'Name <ops@corp.example>': one address an SMTP server takes as MAIL FROM."""
    if not value or "\n" in value or "\r" in value:
        return False
    name, address = parseaddr(value)
    try:
        validate_email(address)
    except ValidationError:
        return False
    return value.strip() in (address, f"{name} <{address}>") or value.strip().endswith(f"<{address}>")


@register()
def check_email(app_configs: Any, **kwargs: Any) -> list[Error]:
    problems = []
    if not _sender_address(str(settings.DEFAULT_FROM_EMAIL or "")):
        problems.append(
            Error(
                "DEFAULT_FROM_EMAIL is not an email address: every notification email would be refused.",
                hint="ops@example.com or 'MLOps <ops@example.com>'",
                id="mlopsadmin.E030",
            )
        )
    if settings.EMAIL_BACKEND == SMTP_BACKEND:
        if settings.EMAIL_USE_TLS and settings.EMAIL_USE_SSL:
            problems.append(
                Error(
                    "EMAIL_USE_TLS and EMAIL_USE_SSL are both on; choose one.",
                    hint="STARTTLS (usually port 587): EMAIL_USE_TLS. Implicit TLS (port 465): EMAIL_USE_SSL.",
                    id="mlopsadmin.E020",
                )
            )
        if not settings.EMAIL_HOST or not 0 < settings.EMAIL_PORT < 65536:
            problems.append(Error("EMAIL_HOST must be set and EMAIL_PORT be 1–65535.", id="mlopsadmin.E021"))
        if bool(settings.EMAIL_HOST_USER) != bool(settings.EMAIL_HOST_PASSWORD):
            problems.append(
                Error("Set both EMAIL_HOST_USER and EMAIL_HOST_PASSWORD, or neither.", id="mlopsadmin.E022")
            )
    if settings.EMAIL_TIMEOUT is not None and settings.EMAIL_TIMEOUT <= 0:
        problems.append(Error("EMAIL_TIMEOUT must be a positive number of seconds.", id="mlopsadmin.E026"))
    if settings.EMAIL_BACKEND == FILE_BACKEND:
        path = settings.EMAIL_FILE_PATH
        parent = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
        if not path or not os.access(parent, os.W_OK):
            problems.append(
                Error(f"EMAIL_FILE_PATH {path!r} is not a writable folder (file email backend).", id="mlopsadmin.E023")
            )
    return problems


@register()
def check_notification_links(app_configs: Any, **kwargs: Any) -> list[Error]:
    problems = []
    if not _http_url(settings.SITE_URL):
        problems.append(
            Error(
                "SITE_URL must be the http(s) address people open mlopsadmin at (links in notifications).",
                id="mlopsadmin.E024",
            )
        )
    if settings.NOTIFY_WEBHOOK_URL and not _http_url(settings.NOTIFY_WEBHOOK_URL):
        # the value itself is a secret: never repeated in the message
        problems.append(Error("NOTIFY_WEBHOOK_URL must be an http(s) URL.", id="mlopsadmin.E025"))
    if settings.NOTIFY_MAX_RETRIES < 0 or settings.NOTIFY_RETRY_DELAY <= 0:
        problems.append(Error("NOTIFY_MAX_RETRIES must be ≥ 0 and NOTIFY_RETRY_DELAY > 0.", id="mlopsadmin.E027"))
    if settings.NOTIFY_WEBHOOK_TIMEOUT <= 0:
        problems.append(Error("NOTIFY_WEBHOOK_TIMEOUT must be a positive number of seconds.", id="mlopsadmin.E028"))
    for position, entry in enumerate(settings.NOTIFY_EMAILS, start=1):
        try:  # the rule of the configuration file's [notifications] emails (configuration.rules)
            validate_email(entry)
        except ValidationError:
            problems.append(
                Error(
                    f"Entry {position} of NOTIFY_EMAILS is not an email address.",
                    hint="Comma-separated plain addresses: ops@example.com,oncall@example.com",
                    id="mlopsadmin.E029",
                )
            )
    return problems
