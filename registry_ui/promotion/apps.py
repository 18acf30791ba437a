from django.apps import AppConfig


class PromotionConfig(AppConfig):
    """Promotion and rollback: validation gate, per-model lock, alias history."""

    name = "registry_ui.promotion"
    label = "promotion"

    def ready(self) -> None:
        from mlopsadmin.core.dashboard import register_tiles
        from registry_ui.promotion.tiles import alias_moves_tile

        register_tiles(alias_moves_tile)
