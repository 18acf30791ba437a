from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "maintenance"

    def ready(self) -> None:
        from maintenance.dashboard import maintenance_badge, maintenance_tiles
        from mlopsadmin.core.dashboard import register_badge, register_tiles

        register_tiles(maintenance_tiles)
        register_badge("maintenance", maintenance_badge)
