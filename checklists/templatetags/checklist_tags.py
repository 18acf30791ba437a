"""Status pills for checklist items."""

from __future__ import annotations

from django import template

register = template.Library()

PILL_CLASSES = {"pass": "pill-ok", "fail": "pill-critical", "warn": "pill-warning"}
LABELS = {"pass": "pass", "fail": "fail", "warn": "warn", "unknown": "unknown", "pending": "to do", "n/a": "n/a"}


@register.filter
def pill_class(status: str) -> str:
    return PILL_CLASSES.get(status, "")


@register.filter
def status_label(status: str) -> str:
    return LABELS.get(status, status)
