"""Schemas shared by several apps' API routers (one class per OpenAPI component name)."""

from __future__ import annotations

from ninja import Schema


class QueuedOut(Schema):
    """The answer of an operation that queues a task for the workers (a sync, a reconciliation)."""

    queued: bool
    detail: str
