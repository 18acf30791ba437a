"""Home tiles and the nav badge of maintenance."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from maintenance import selectors
from maintenance.models import TaskKind
from mlopsadmin.core.dashboard import Tile
from mlopsadmin.core.formatting import human_bytes


def maintenance_tiles(user: Any) -> list[Tile]:
    url = reverse("maintenance:index")
    active = selectors.active_task_runs()
    tiles = [
        Tile(
            title="Maintenance tasks running",
            value=str(len(active)),
            url=url,
            items=[f"{r.get_kind_display()} #{r.pk} ({r.percent}%)" for r in active[:3]],
            level="info",
            order=60,
        )
    ]
    cleanup = selectors.last_task_run(kind=TaskKind.CLEANUP_EXECUTE)
    tiles.append(
        Tile(
            title="Last cleanup",
            url=url,
            order=61,
            value=f"{(cleanup.counts or {}).get('deleted', 0)} runs deleted" if cleanup else "never",
            detail=f"{cleanup.finished_at:%Y-%m-%d %H:%M}" if cleanup and cleanup.finished_at else "",
        )
    )
    stuck = selectors.stuck_runs_last_seen()
    tiles.append(
        Tile(
            title="Stuck runs",
            url=url,
            order=62,
            value="unknown" if stuck is None else str(stuck),
            level="warning" if stuck else "ok",
            detail="from the latest reaper run" if stuck is not None else "the reaper has not run yet",
        )
    )
    totals = selectors.latest_capacity_totals()
    if totals is None:
        tiles.append(Tile(title="Capacity", value="not measured", url=url, order=63))
    else:
        level = (
            "critical"
            if totals["critical"]
            else "warning"
            if totals["warning"]
            else "info"
            if totals["unknown"]
            else "ok"
        )
        tiles.append(
            Tile(
                title="Capacity alerts",
                url=url,
                order=63,
                level=level,  # unknown is never a green "none"
                value="unknown" if level == "info" else "none" if level == "ok" else level,
                detail=f"artifacts {human_bytes(totals['artifact_bytes'])}, "
                f"database {human_bytes(totals['database_bytes'])}",
                items=list(totals.get("messages", []))[:2],
            )
        )
    return tiles


def maintenance_badge(user: Any) -> int:
    totals = selectors.latest_capacity_totals()
    return 1 if totals and totals["warning"] else 0
