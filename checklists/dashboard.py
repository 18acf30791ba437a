"""Home tile, the home page's "checklist items due" section and nav badge: overdue checklists and failing
items."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from checklists import selectors
from checklists.models import FAIL
from mlopsadmin import policy
from mlopsadmin.core.dashboard import MY_ITEMS, MyItem, MySection, Tile


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


def checklist_my_section(user: Any) -> list[MySection]:
    """ "For you": items of the open current checklists that wait for a person (a manual tick not given)
    or fail, the earliest due first; only for those who may tick (operators, admins)."""
    section = MySection(
        key="my-checklist",
        title="Checklist items due",
        items=[],
        count=0,
        empty="Nothing is due in the open checklists.",
        more_url=reverse("checklists:index"),
        more_label="checklists",
        order=40,
    )
    if not policy.can(user, policy.Action.CHECKLIST_TICK):
        section.empty = "Checklist items are ticked by operators: nothing is due from you."
        return [section]
    due = selectors.items_due()
    section.count = len(due)
    for item in due[:MY_ITEMS]:
        instance = item.instance
        when = f"due {instance.period_end:%Y-%m-%d}" if instance.period_end else "no due date"
        state = "failing" if item.status == FAIL else "to tick"
        overdue = instance.is_overdue()
        section.items.append(
            MyItem(
                text=item.text,
                url=f"{reverse('checklists:instance', args=[instance.pk])}#item-{item.key}",
                detail=f"{instance} · {when}{' (overdue)' if overdue else ''} · {state}",
                level="critical" if overdue or item.status == FAIL else "",
            )
        )
    return [section]
