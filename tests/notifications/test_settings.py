"""Notification settings read from the environment are refused at start-up when wrong, naming the variable,
in a fresh `manage.py check` process: a misspelt EMAIL_USE_TLS must never silently send the SMTP password
in clear text, a port or timeout that is not a number is not a bare traceback, a webhook timeout of zero
and an address that cannot receive mail are reported before the first notification is lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMTP = {
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "smtp.internal",
    "EMAIL_PORT": "587",
    "EMAIL_HOST_USER": "mailer",
    "EMAIL_HOST_PASSWORD": "pw-not-shown-0123456789",
}


def _check(env: dict[str, str]) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "NOTIFY_"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={**base, "DEBUG": "true", **SMTP, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("EMAIL_USE_TLS", "ture", "EMAIL_USE_TLS"),
        ("EMAIL_USE_SSL", "enabled", "EMAIL_USE_SSL"),
        ("EMAIL_PORT", "587a", "EMAIL_PORT"),
        ("EMAIL_TIMEOUT", "ten", "EMAIL_TIMEOUT"),
        ("NOTIFY_RETRY_DELAY", "30s", "NOTIFY_RETRY_DELAY"),
        ("NOTIFY_WEBHOOK_TIMEOUT", "0", "NOTIFY_WEBHOOK_TIMEOUT"),
        ("NOTIFY_EMAILS", "ops@example.com,not-an-address", "NOTIFY_EMAILS"),
    ],
)
def test_a_wrong_notification_setting_stops_the_start_naming_it(variable: str, value: str, said: str) -> None:
    code, output = _check({variable: value})
    assert code != 0 and said in output, output[-3000:]
    assert "Traceback" not in output and SMTP["EMAIL_HOST_PASSWORD"] not in output, output[-3000:]


def test_the_usual_spellings_start() -> None:
    usual = {"EMAIL_USE_TLS": "True", "EMAIL_USE_SSL": "off", "NOTIFY_EMAILS": "ops@example.com, oncall@example.com"}
    code, output = _check(usual)
    assert code == 0, output[-3000:]
