from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "mlopsadmin.accounts"
    label = "accounts"
    verbose_name = "Sign-in and MLflow permissions"

    def ready(self) -> None:
        from mlopsadmin.accounts import checks  # noqa: F401  (registers the system checks)
