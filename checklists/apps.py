from django.apps import AppConfig


class ChecklistsConfig(AppConfig):
    """Operations checklists (initial, weekly, monthly) with automated probes."""

    name = "checklists"
    label = "checklists"

    def ready(self) -> None:
        from mlopsadmin.core.dashboard import register_badge, register_my_sections, register_tiles

        register_tiles("checklists.dashboard.checklist_tiles")
        register_my_sections("checklists.dashboard.checklist_my_section")
        register_badge("checklists", "checklists.dashboard.checklist_badge", shared=True)
