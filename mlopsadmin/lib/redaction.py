"""Keeping secrets out of text: credentials inside URIs and the configured secret values.

`scrub` is for any text that may carry a URI or an error message from a library. `install_log_redaction`
is defence in depth for log lines: every log record, of every logger, is scrubbed when it is created, so
a library that logs a URI with credentials, a signed request header or a template context cannot put a
secret in a log file. The sources are fixed where they are ours (settings split credentials out of the
tracking URI, every page has the context its base template reads).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings

from mlopsadmin.lib.uris import split_uri_credentials

REDACTED = "[redacted]"
# scheme://user:password@  or  scheme://token@  (userinfo never contains "/", "@" or whitespace)
URI_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^\s/@'\"<>]+@")
# Settings whose values are secrets themselves, and settings that are URIs which may carry a password.
SECRET_SETTINGS = (
    "SECRET_KEY",
    "AUDIT_HMAC_KEY",
    "MLFLOW_TRACKING_PASSWORD",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "MLFLOW_WEBHOOK_SECRET",
    "METRICS_TOKEN",
    "OIDC_RP_CLIENT_SECRET",
    "EMAIL_HOST_PASSWORD",
)
URI_SETTINGS = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_BACKEND_STORE_URI",
    "NOTIFY_WEBHOOK_URL",
)
MIN_SECRET_LENGTH = 8  # shorter values would redact ordinary words ("testing")
# Secrets known only at run time (webhook URLs read from the database when a notification is sent).
_runtime_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Redact `value` from every log line of this process from now on (values shorter than 8 are ignored)."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        _runtime_secrets.add(value)


@functools.lru_cache(maxsize=256)
def _webhook_url_secrets(url: str) -> tuple[str, ...]:
    from mlopsadmin.lib.http import url_forms  # imports requests: only once a webhook URL is redacted

    values: set[str] = set()
    for form in [url, *url_forms(url)]:
        parts = urlsplit(form)
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        values.add(form)
        if len(tail) > 1:
            values.update((tail, unquote(tail)))
    return tuple(sorted(values, key=len, reverse=True))


def webhook_url_secrets(url: str) -> list[str]:
    """A Slack-style webhook URL is a secret by its path (and query), not by a password: the URL and that
    part, as typed, percent-decoded and as `requests` re-quotes them in its errors and log lines (a space
    becomes %20, `é` becomes %C3%A9, %7E becomes ~). Longest first."""
    return list(_webhook_url_secrets(url)) if url else []


def _uri_password(uri: str) -> str:
    return split_uri_credentials(uri)[2]


def _setting(name: str) -> Any:
    try:
        return getattr(settings, name, "")
    except Exception:  # e.g. an empty SECRET_KEY refuses to be read: nothing to redact then
        return ""


def secret_values() -> list[str]:
    """The configured secrets, longest first (so a value containing another is replaced whole)."""
    if not settings.configured:
        return []
    values = [str(_setting(name) or "") for name in SECRET_SETTINGS]
    values += [_uri_password(str(_setting(name) or "")) for name in URI_SETTINGS]
    values += [str(db.get("PASSWORD") or "") for db in (_setting("DATABASES") or {}).values()]
    values += list(_runtime_secrets) + webhook_url_secrets(str(_setting("NOTIFY_WEBHOOK_URL") or ""))
    return sorted({v for v in values if len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True)


def scrub(text: str, values: Iterable[str] | None = None) -> str:
    """`text` without URI credentials and without any configured secret value."""
    text = URI_USERINFO.sub(r"\g<scheme>***@", text)
    for value in secret_values() if values is None else values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def _scrub_record(record: logging.LogRecord) -> None:
    exc = record.exc_info[1] if record.exc_info else None
    if exc is not None and type(exc).__name__ == "VariableDoesNotExist":
        # Django's template engine logs the whole template context (a new API token, an error message)
        # with every failed variable lookup: keep the variable's name only.
        params = getattr(exc, "params", ())
        record.exc_info, record.exc_text = None, f"VariableDoesNotExist: failed lookup for {params[:1]!r}"
    values = secret_values()
    try:
        message = record.getMessage()
    except Exception:  # a malformed record: logging reports it itself, leave it alone
        return
    scrubbed = scrub(message, values)
    if scrubbed != message:
        record.msg, record.args = scrubbed, ()
    if record.exc_info and record.exc_info[1] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        clean = scrub(text, values)
        if clean != text:  # the formatted traceback replaces the exception, which still holds the secret
            record.exc_info, record.exc_text = None, clean
    if record.stack_info:
        record.stack_info = scrub(record.stack_info, values)


def install_log_redaction() -> None:
    """Scrub every log record when it is created (idempotent)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "mlopsadmin_redacting", False):
        return
    previous: Callable[..., logging.LogRecord] = factory

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        with contextlib.suppress(Exception):  # logging must never fail because of the redaction
            _scrub_record(record)
        return record

    redacting_factory.mlopsadmin_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)
