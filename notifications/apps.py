from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Notifications of governed events on independent channels (email, webhook), with a delivery log."""

    name = "notifications"

    def ready(self) -> None:
        from mlopsadmin.core.dashboard import register_tiles
        from notifications import checks  # noqa: F401 - registers the system checks

        # The delivery task is sent by name (mlopsadmin.task_queue imports notifications.tasks then).
        register_tiles("notifications.dashboard.delivery_failure_tiles")
