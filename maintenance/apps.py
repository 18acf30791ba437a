from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "maintenance"

    def ready(self) -> None:
        from maintenance.dashboard import maintenance_badge, maintenance_tiles
        from mlopsadmin.core.dashboard import register_badge, register_tiles

        register_tiles(maintenance_tiles)
        register_badge("maintenance", maintenance_badge)
        # Register the Celery tasks in every process (web too): task_runs enqueues by task name.
        import maintenance.tasks  # noqa: F401
