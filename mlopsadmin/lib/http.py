"""Outgoing HTTP calls of the product's own (notification webhooks): one place that imports `requests`
for them, with a deadline on every call, no redirects followed, and one error type. `requests` (and
urllib3, ~50 ms) is imported on first call, not with this module: the notification admin and channels
import this module while Django starts, and a `manage.py` command that sends nothing should not pay for it
(tests/configuration/test_startup_imports.py)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class HttpError(Exception):
    """The request did not get an answer (refused, timed out, TLS, DNS). Retrying may help.
    The message may contain the URL: callers redact it before logging or storing."""


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    headers: dict[str, str],
    timeout: float,
    late: Callable[[int], None] | None = None,
    late_within: float = 0.0,
) -> int:
    """POST `payload` as JSON to `url`; returns the HTTP status (redirects are not followed: a webhook
    that redirects is misconfigured). `timeout` in seconds bounds the whole attempt: connecting, sending
    and receiving the status line and headers (the body of the answer is not read). A receiver that
    dribbles its answer byte by byte would keep a per-read timeout from ever firing; here the caller gets
    HttpError after `timeout` seconds and the request is left to end on its own in the background.
    `late(status)`: called from that background thread when the answer still arrives after the caller
    gave up, within `late_within` more seconds (a slow receiver that did get the message); it must close
    the database connections it opens."""
    import requests

    outcome: dict[str, Any] = {}
    lock = threading.Lock()

    def attempt() -> None:
        result: dict[str, Any]
        try:
            with requests.post(
                url,
                json=payload,
                headers=headers,
                timeout=(timeout, timeout + late_within),  # connect, then each read
                allow_redirects=False,
                stream=True,
            ) as response:
                result = {"status": response.status_code}
        except Exception as exc:  # requests' own and anything else: never an unhandled error in a thread
            result = {"error": f"{type(exc).__name__}: {exc}"}
        with lock:
            gave_up = outcome.get("gave_up", False)
            outcome.update(result)
        if gave_up and late is not None and "status" in result:
            try:
                late(int(result["status"]))
            except Exception:  # a late answer is a bonus: never an unhandled error in a thread
                logger.exception("webhook: recording a late answer failed")

    worker = threading.Thread(target=attempt, name="webhook-post", daemon=True)
    worker.start()
    worker.join(timeout)
    with lock:
        if "status" in outcome:
            return int(outcome["status"])
        if "error" in outcome:
            raise HttpError(outcome["error"])
        outcome["gave_up"] = True
    raise HttpError(f"Timeout: no complete answer within {timeout:g} s")


def url_forms(url: str) -> list[str]:
    """`url` as `requests` sends and reports it (IDNA host, path and query re-quoted) and, of that, the part
    after the host: what an error message or a library log line may show instead of the URL as typed."""
    import requests

    prepared = requests.models.PreparedRequest()
    try:
        prepared.prepare_url(url, None)
    except requests.RequestException:
        return []
    return [str(prepared.url), prepared.path_url]
