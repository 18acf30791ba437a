"""Small template filters shared by every page (registered as builtins)."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from django import template
from django.utils.safestring import mark_safe

from mlopsadmin.core.formatting import human_bytes, ms_datetime

register = template.Library()


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    if not mapping:
        return None
    return mapping.get(key)


@register.filter
def ms_to_datetime(value: Any) -> datetime | None:
    """MLflow timestamps are milliseconds since the epoch (None when unset or not a date)."""
    return ms_datetime(value)


@register.filter
def filesize(value: Any) -> str:
    return "–" if value in (None, "") else human_bytes(float(value))


@register.filter
def select_options(options: Any) -> str:
    """[(value, label), ...] as `<option>` tags, escaped: one join instead of a template loop (a model's
    Version dropdown may list a thousand versions)."""
    tags = (f'<option value="{escape(str(value))}">{escape(str(label))}</option>' for value, label in options)
    return mark_safe("".join(tags))  # noqa: S308 - every value and label is escaped just above
