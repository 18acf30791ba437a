"""Small template filters shared by every page (registered as builtins)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    if not mapping:
        return None
    return mapping.get(key)


@register.filter
def ms_to_datetime(value: Any) -> datetime | None:
    """MLflow timestamps are milliseconds since the epoch."""
    if value in (None, "", 0):
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


@register.filter
def filesize(value: Any) -> str:
    if value in (None, ""):
        return "–"
    size = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"
