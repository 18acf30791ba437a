from django.apps import AppConfig


class PromotionConfig(AppConfig):
    """Promotion and rollback: validation gate, per-model lock, alias history."""

    name = "registry_ui.promotion"
    label = "promotion"
