"""Home tile: recent alias moves, external changes highlighted (database only, no MLflow call)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from mlopsadmin.core.dashboard import Tile
from registry_ui.promotion.models import AliasEvent


def alias_moves_tile(user: Any) -> list[Tile]:
    since = timezone.now() - timedelta(days=7)
    recent = AliasEvent.objects.filter(occurred_at__gte=since)
    external = recent.filter(source=AliasEvent.SOURCE_EXTERNAL).count()
    latest = list(recent.order_by("-occurred_at", "-id")[:3])
    items = [
        f"{e.model_name}: deleted and re-created in MLflow"
        if e.action == "recreated"
        else f"{e.model_name} @{e.alias}: {e.from_version or '–'} → {e.to_version or 'removed'}"
        + (" (external)" if e.source == AliasEvent.SOURCE_EXTERNAL else "")
        for e in latest
    ]
    url = reverse("promotion:aliases", args=[latest[0].model_name]) if latest else reverse("registry:index")
    return [
        Tile(
            title="Alias moves (7 days)",
            value=str(recent.count()),
            url=url,
            items=items,
            order=35,
            detail=f"{external} made outside mlopsadmin" if external else "all through mlopsadmin",
            level="warning" if external else "info",
        )
    ]
