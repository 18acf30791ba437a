from django.apps import AppConfig


class ChecklistsConfig(AppConfig):
    """Operations checklists (initial, weekly, monthly) with automated probes."""

    name = "checklists"
    label = "checklists"

    def ready(self) -> None:
        from checklists.dashboard import checklist_badge, checklist_tiles
        from mlopsadmin.core.dashboard import register_badge, register_tiles

        register_tiles(checklist_tiles)
        register_badge("checklists", checklist_badge)
