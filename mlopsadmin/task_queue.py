"""Sending Celery tasks by name, with the Celery app loaded on first use.

Commands and pages that never send a task never import Celery (see `mlopsadmin/__init__.py`); the
senders (task runs, notifications, alias reconciliation) ask for a task here by its registered name.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any


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
