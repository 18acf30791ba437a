from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Experiment catalog"

    def ready(self) -> None:
        from mlopsadmin.core.dashboard import register_tiles

        register_tiles("catalog.dashboard.catalog_tiles")
