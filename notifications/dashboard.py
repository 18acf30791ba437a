"""Home-page warning: notifications given up after their retries (admins and operators)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from mlopsadmin import policy
from mlopsadmin.core.dashboard import Tile
from notifications import selectors
from notifications.models import DeliveryState


def delivery_failure_tiles(user: Any) -> list[Tile]:
    if not policy.can(user, policy.Action.NOTIFICATION_LOG_VIEW):
        return []
    failed = selectors.failed_count()
    if not failed:
        return []
    latest = selectors.delivery_log(state=DeliveryState.FAILED)[:3]
    return [
        Tile(
            title="Notifications",
            value=f"{failed} failed",
            url=reverse("notifications:log") + "?state=failed",
            detail="Given up after the retries: not delivered. Review and re-send on the delivery log.",
            level="critical",
            items=[f"{n.event} via {n.channel}: {n.last_error[:120]}" for n in latest],
            order=5,
        )
    ]
