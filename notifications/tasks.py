"""Celery tasks of the notifications app: a thin interface over notifications.services.

One task per notification (one event × channel × recipient), with its own retries: NOTIFY_MAX_RETRIES,
the first after NOTIFY_RETRY_DELAY seconds, doubling. Acks late: a worker killed mid-send gives the
message back; the claim in the service keeps a redelivered or duplicated message from sending twice."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from notifications import services
from notifications.channels import DeliveryFailed


@shared_task(bind=True, name="notifications.tasks.deliver_notification", acks_late=True, ignore_result=True)
def deliver_notification(self, *, notification_id: int) -> str:  # type: ignore[no-untyped-def]
    retries = self.request.retries
    try:
        return services.notification_deliver(
            notification_id=notification_id, final=retries >= settings.NOTIFY_MAX_RETRIES
        )
    except DeliveryFailed as exc:  # its message is redacted: safe for Celery's own retry log line
        countdown = settings.NOTIFY_RETRY_DELAY * 2**retries
        raise self.retry(exc=exc, countdown=countdown, max_retries=settings.NOTIFY_MAX_RETRIES) from None


@shared_task(name="notifications.tasks.notifications_requeue_scheduled", acks_late=True, ignore_result=True)
def notifications_requeue_scheduled() -> int:
    """Beat: every 10 minutes (SCHEDULE_NOTIFICATIONS_REQUEUE). Sends what a broker outage left pending."""
    return len(services.notifications_requeue())


@shared_task(name="notifications.tasks.record_event", acks_late=True, ignore_result=True)
def record_event(*, event: dict[str, object]) -> int:
    """Record the notifications of an event sent by notifications.deferred.notify_later (a redelivered
    message records nothing twice: every row is keyed by the event's key)."""
    from notifications import deferred

    return deferred.event_record(event=event)
