"""Differences between an audit event's `before` and `after` states, as the pages show them: nested JSON
as dotted keys, changes first, floats rounded for reading (the stored record keeps every digit)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested JSON as dotted paths: {"a": {"b": [1, 2]}} → {"a.b.0": 1, "a.b.1": 2}. Empty containers stay."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return out
    if not prefix:
        return {} if value in (None, {}, []) else {"(value)": value}
    return {prefix: value}


@dataclass(frozen=True)
class DiffLine:
    path: str
    change: str  # added, removed, changed, same
    before: Any
    after: Any

    @property
    def before_text(self) -> str:
        return _show(self.before)

    @property
    def after_text(self) -> str:
        return _show(self.after)


def _show(value: Any) -> str:
    """A value as the diff shows it; floats to 6 significant digits (0.8400000000000001 → 0.84: the
    stored record keeps every digit)."""
    if value is _MISSING:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


_MISSING = object()


def state_diff(before: Any, after: Any) -> list[DiffLine]:
    """Added, removed and changed keys first (in path order), unchanged ones last. An empty dict/list
    that is absent on the other side (or became filled: its keys show) makes no line."""
    old, new = flatten(before), flatten(after)
    lines = []
    for path in sorted(set(old) | set(new)):
        if (path not in old and new[path] in ({}, [])) or (path not in new and old[path] in ({}, [])):
            continue  # an empty container on one side only ("tags: removed {}") is no change
        if path not in old:
            lines.append(DiffLine(path, "added", _MISSING, new[path]))
        elif path not in new:
            lines.append(DiffLine(path, "removed", old[path], _MISSING))
        elif old[path] != new[path]:
            lines.append(DiffLine(path, "changed", old[path], new[path]))
        else:
            lines.append(DiffLine(path, "same", old[path], new[path]))
    return sorted(lines, key=lambda line: line.change == "same")
