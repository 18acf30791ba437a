"""The request id of the current web request or task, for audit events and log lines."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")


def new_request_id() -> str:
    return uuid.uuid4().hex
