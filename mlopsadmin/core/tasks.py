"""Celery tasks of the core: notification delivery (retried, never blocking the caller)."""

from __future__ import annotations

import logging

import requests
from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    autoretry_for=(requests.RequestException, OSError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
    acks_late=True,
)
def deliver_notification(self, *, subject: str, text: str, emails: list[str]) -> None:  # type: ignore[no-untyped-def]
    try:
        if settings.NOTIFY_WEBHOOK_URL:
            response = requests.post(settings.NOTIFY_WEBHOOK_URL, json={"text": f"*{subject}*\n{text}"}, timeout=10)
            response.raise_for_status()
        if emails:
            send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, emails, fail_silently=False)
    except Exception as exc:
        logger.warning("notification %r failed (attempt %s): %s", subject, self.request.retries + 1, exc)
        raise
