from django.apps import AppConfig


class PromotionConfig(AppConfig):
    """Promotion and rollback: validation gate, per-model lock, alias history."""

    name = "registry_ui.promotion"
    label = "promotion"

    def ready(self) -> None:
        from mlopsadmin.core.dashboard import register_tiles

        register_tiles("registry_ui.promotion.tiles.alias_moves_tile")
