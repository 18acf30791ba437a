"""Outgoing HTTP calls of the product's own (notification webhooks): one place that imports `requests`
for them, with a timeout on every call, no redirects followed, and one error type. `requests` is imported
on the first call: every process imports the notification channels (the admin does), few send."""

from __future__ import annotations

from typing import Any


class HttpError(Exception):
    """The request did not get an answer (refused, timed out, TLS, DNS). Retrying may help.
    The message may contain the URL: callers redact it before logging or storing."""


def post_json(url: str, payload: dict[str, Any], *, headers: dict[str, str], timeout: float) -> int:
    """POST `payload` as JSON to `url`; returns the HTTP status (redirects are not followed: a webhook
    that redirects is misconfigured). `timeout` in seconds, for connecting and for each read."""
    import requests

    try:
        response = requests.post(url, json=payload, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        raise HttpError(f"{type(exc).__name__}: {exc}") from None
    response.close()
    return response.status_code
