from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Experiment catalog"

    def ready(self) -> None:
        from catalog.dashboard import catalog_tiles
        from mlopsadmin.core.dashboard import register_tiles

        register_tiles(catalog_tiles)
