"""Home tile and nav badge: overdue checklists and failing items."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from checklists import selectors
from mlopsadmin.core.dashboard import Tile


def checklist_tiles(user: Any) -> list[Tile]:
    overdue = selectors.overdue_instances()
    current = selectors.current_instances()
    failing = selectors.failing_items(current)
    items = [f"Overdue: {i} (due {i.period_end:%Y-%m-%d})" for i in overdue[:4]]
    items += [f"Failing: {item.text} ({item.instance})" for item in failing[:4]]
    if overdue:
        level, value = "critical", f"{len(overdue)} overdue"
    elif failing:
        level, value = "warning", f"{len(failing)} failing"
    elif current:
        level, value = "ok", "on track"
    else:
        level, value = "info", "not started"
    detail = f"{len(failing)} failing item(s) in open checklists" if failing else "Operations checklists"
    return [
        Tile(
            title="Checklists",
            value=value,
            url=reverse("checklists:index"),
            detail=detail,
            level=level,
            items=items,
            order=40,
        )
    ]


def checklist_badge(user: Any) -> int:
    return len(selectors.overdue_instances())
