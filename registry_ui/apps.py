from django.apps import AppConfig


class RegistryUiConfig(AppConfig):
    name = "registry_ui"
