from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class RegistryUiConfig(AppConfig):
    """Model registry: overview, version metadata, lineage, champion comparison, four-eyes approvals."""

    name = "registry_ui"

    def ready(self) -> None:
        from mlopsadmin.core.dashboard import register_badge, register_my_sections, register_tiles

        # The tasks the services enqueue are sent by name (mlopsadmin.task_queue imports registry_ui.tasks).
        register_badge(
            "registry", _inbox_badge, url_name="registry:inbox", label="approval requests waiting for your decision"
        )
        register_tiles(_approval_tiles)
        register_my_sections("registry_ui.home.my_registry_sections")


def _inbox_badge(user: Any) -> int:
    from registry_ui.approvals.selectors import inbox_count

    return inbox_count(user)


def _approval_tiles(user: Any) -> list[Any]:
    from django.urls import reverse

    from mlopsadmin.core.dashboard import Tile
    from registry_ui.approvals.selectors import inbox_count, pending_total

    mine = inbox_count(user)  # the nav badge's count: never one's own requests
    total = pending_total()
    detail = f"{mine} waiting for your decision" if mine else "none waiting for you"
    return [
        Tile(
            title="Pending approvals",
            value=str(total),
            url=reverse("registry:inbox"),
            detail=detail,
            level="warning" if mine else "info",
            order=20,
        )
    ]
