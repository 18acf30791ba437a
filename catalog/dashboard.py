"""The catalog's home tile: naming compliance of active experiments."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from catalog.selectors import naming_compliance_percent, sync_status
from mlopsadmin.core.dashboard import Tile


def catalog_tiles(user: Any) -> list[Tile]:
    percent, compliant, total = naming_compliance_percent()
    state = sync_status()
    if percent is None or not total:  # 0 of 0 is "not synced", never a green 100 %
        detail = (
            "The experiment catalog has not been synced yet."
            if state.last_success_at is None
            else "The catalog index holds no active experiments; run a sync."
        )
        return [
            Tile(
                title="Naming compliance",
                value="not synced",
                url=reverse("catalog:index"),
                detail=detail,
                level="info",
                order=20,
            )
        ]
    level = "ok" if percent >= 90 else "warning" if percent >= 60 else "critical"
    return [
        Tile(
            title="Naming compliance",
            value=f"{percent}%",
            url=reverse("catalog:index"),
            detail=f"{compliant} of {total} experiments follow the naming convention",
            level=level,
            order=20,
        )
    ]
