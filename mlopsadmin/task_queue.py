"""Sending Celery tasks by name, with the Celery app loaded on first use.

Commands and pages that never send a task never import Celery (see `mlopsadmin/__init__.py`); the
senders (task runs, notifications, alias reconciliation) ask for a task here by its registered name and
publish it with `send`, which is bounded in time: a broker that refuses, or one that accepts the
connection and never answers (a frozen server), costs one request a few seconds, not the web worker.
"""

from __future__ import annotations

import logging
import threading
import time
from importlib import import_module
from typing import Any

logger = logging.getLogger(__name__)

# Bounded publishing: one retry, no back-off to speak of. Each attempt is bounded by the broker socket
# timeout (settings.CELERY_BROKER_TRANSPORT_OPTIONS, CELERY_BROKER_SOCKET_TIMEOUT).
SEND_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
# After a failed publish, further sends to the same broker from this process fail at once for this long
# (a promotion that notifies six people must not wait on a dead broker six times).
BROKER_DOWN_SECONDS = 30.0

_down_until: dict[str, float] = {}
_down_lock = threading.Lock()


class BrokerUnavailable(Exception):
    """The broker did not accept the message (refused, timed out, or failed just before): not published."""


def queued_task(name: str) -> Any:
    """The registered Celery task `name` ("<module>.<function>", e.g.
    "notifications.tasks.deliver_notification") on the project's Celery app, to call `.delay(...)` or
    `.apply_async(...)` on (the app's settings apply: broker, eager mode in tests).

    Imports the app and the task's module first, so the task is registered in any process (web,
    command, worker) without the feature apps importing their task modules at start-up.
    Raises KeyError when that module registers no task of that name, ImportError when it does not exist.
    """
    from mlopsadmin.celery import app

    import_module(name.rpartition(".")[0])
    return app.tasks[name]


def _broker_key() -> str:
    from mlopsadmin.celery import app

    return str(app.conf.broker_write_url or app.conf.broker_url or "")


def send(name: str, *, kwargs: dict[str, Any], countdown: float | None = None, task_id: str | None = None) -> None:
    """Publish task `name` (see queued_task) with `kwargs` (JSON-serialisable), optionally after
    `countdown` seconds and with a chosen Celery `task_id`.

    Takes at most about two broker socket timeouts (CELERY_BROKER_SOCKET_TIMEOUT, 5 s) plus 0.5 s. Raises
    BrokerUnavailable when the broker refused or did not answer; then, for BROKER_DOWN_SECONDS, every
    further send to that broker from this process raises at once without trying. A message whose answer
    was lost may still arrive once the broker resumes: callers record it as not started, and the task
    refuses a record that is no longer queued (maintenance.task_runs.task_run_claim), so nothing runs twice.
    Rule: issue 14 ("Tasks survive their infrastructure"; a frozen broker must not hold a web worker)."""
    key = _broker_key()
    now = time.monotonic()
    with _down_lock:
        if _down_until.get(key, 0.0) > now:
            raise BrokerUnavailable("the task queue (broker) failed moments ago; not tried again yet")
    task = queued_task(name)
    options: dict[str, Any] = {"retry": True, "retry_policy": SEND_RETRY}
    if countdown is not None:
        options["countdown"] = countdown
    if task_id is not None:
        options["task_id"] = task_id
    try:
        task.apply_async(kwargs=kwargs, **options)
    except Exception as exc:  # kombu/redis raise their own types; any failure means "not published"
        with _down_lock:
            _down_until[key] = time.monotonic() + BROKER_DOWN_SECONDS
        logger.warning("task %s not published: the broker did not accept it (%s)", name, type(exc).__name__)
        raise BrokerUnavailable(str(exc)) from exc
    with _down_lock:
        _down_until.pop(key, None)
