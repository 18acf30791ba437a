from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "mlopsadmin.core"
    label = "core"
    verbose_name = "mlopsadmin core"

    def ready(self) -> None:
        from mlopsadmin.core import checks  # noqa: F401  (registers the system checks)
        from mlopsadmin.core.dashboard import register_my_sections
        from mlopsadmin.lib.redaction import install_log_redaction

        install_log_redaction()
        register_my_sections("mlopsadmin.audit.recent.my_recent_actions")  # imported when the home page asks
