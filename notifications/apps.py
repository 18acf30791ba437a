from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Notifications of governed events on independent channels (email, webhook), with a delivery log."""

    name = "notifications"

    def ready(self) -> None:
        from mlopsadmin.core.dashboard import register_tiles
        from notifications import (
            checks,  # noqa: F401 - registers the system checks
            tasks,  # noqa: F401 - registers the delivery task (enqueued by name)
        )
        from notifications.dashboard import delivery_failure_tiles

        register_tiles(delivery_failure_tiles)
