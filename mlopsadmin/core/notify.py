"""The notification channel shared by approvals and capacity alerts: email and/or a Slack-compatible
webhook. Sending happens in a Celery task with retries, so a slow or failing channel never blocks (or
rolls back) the action that caused it; failures are logged."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


def notification_send(*, subject: str, text: str, recipients: list[str] | None = None) -> None:
    """Queue one notification after the current transaction commits."""
    from configuration.selectors import notification_targets

    emails = sorted(set((recipients or []) + list(notification_targets()["emails"])))
    if not emails and not settings.NOTIFY_WEBHOOK_URL:
        logger.info("notification (no channel configured): %s", subject)
        return
    from mlopsadmin.core.tasks import deliver_notification

    def send() -> None:
        try:
            deliver_notification.delay(subject=subject, text=text, emails=emails)
        except Exception as exc:  # the broker is down: a notification never blocks (or fails) the change
            logger.warning("notification %r not queued (task queue not answering): %s", subject, exc)

    transaction.on_commit(send)
