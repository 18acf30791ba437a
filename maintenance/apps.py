from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "maintenance"

    def ready(self) -> None:
        from mlopsadmin.core.dashboard import register_badge, register_tiles

        register_tiles("maintenance.dashboard.maintenance_tiles")
        register_badge("maintenance", "maintenance.dashboard.maintenance_badge", shared=True)
        # The Celery tasks are sent by name (mlopsadmin.task_queue imports maintenance.tasks then).
