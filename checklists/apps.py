from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _definitions_sync(**kwargs: Any) -> None:
    """After `migrate` (and a test database's set-up): load the code's definition files (new versions only)."""
    from checklists.services import definitions_sync

    definitions_sync()


class ChecklistsConfig(AppConfig):
    """Operations checklists (initial, weekly, monthly) with automated probes."""

    name = "checklists"
    label = "checklists"

    def ready(self) -> None:
        from checklists.dashboard import checklist_badge, checklist_tiles
        from mlopsadmin.core.dashboard import register_badge, register_tiles

        register_tiles(checklist_tiles)
        register_badge("checklists", checklist_badge)
        post_migrate.connect(_definitions_sync, sender=self, dispatch_uid="checklists.definitions_sync")
