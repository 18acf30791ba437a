"""The mlopsadmin project package.

The Celery app lives in `mlopsadmin.celery` and is not imported here (Celery's documented pattern), so a
`manage.py` command that never sends a task does not load Celery: `celery -A mlopsadmin` finds the app in
the `celery` submodule by itself, and code that sends a task goes through `mlopsadmin.task_queue`, which
imports the app on first use. `mlopsadmin.celery_app` still names the app, loaded when first read.
"""

from __future__ import annotations

from typing import Any

__all__ = ["celery_app"]


def __getattr__(name: str) -> Any:
    if name == "celery_app":
        from mlopsadmin.celery import app

        return app
    raise AttributeError(f"module 'mlopsadmin' has no attribute {name!r}")
