from django.apps import AppConfig


class ChecklistsConfig(AppConfig):
    """Operations checklists (initial, weekly, monthly) with automated probes."""

    name = "maintenance.checklists"
    label = "checklists"
