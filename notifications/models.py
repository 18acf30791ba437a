"""What the notifications app keeps: one Notification per event × channel × recipient (the delivery
log), per-team webhook URLs (secrets: shown only redacted) and who watches which model."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class DeliveryState(models.TextChoices):
    PENDING = "pending", "pending"  # queued, or waiting for its next retry
    SENDING = "sending", "sending"  # claimed by a worker right now
    SENT = "sent", "sent"
    FAILED = "failed", "failed"  # gave up after the retries (home-page warning until re-sent)


class Notification(models.Model):
    """One message for one recipient on one channel. `idempotency_key` is unique: an event emitted twice
    creates one row, and a row is delivered at most once (claimed with a conditional update)."""

    event = models.CharField(max_length=48, help_text="approval.requested, model.promoted, task.failed, …")
    event_key = models.CharField(max_length=200, help_text="Identifies the event (same for all its recipients).")
    channel = models.CharField(max_length=16)
    recipient = models.CharField(
        max_length=254, help_text="An email address, or a webhook reference ('team:<id>', 'global'); never a URL."
    )
    idempotency_key = models.CharField(max_length=64, unique=True)
    subject = models.CharField(max_length=255)
    lines = models.JSONField(default=list, help_text="Message lines as plain text; each channel escapes them.")
    # No length limit: a 256-character model name is up to ~2,300 characters percent-encoded, and a cut
    # link is a page that does not exist.
    link = models.TextField(blank=True, help_text="Absolute link back to mlopsadmin.")
    team = models.CharField(max_length=64, blank=True)
    model_name = models.CharField(max_length=256, blank=True)
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, help_text="Redacted: no webhook URL, no password.")
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "-created_at"], name="notification_state_idx")]

    def __str__(self) -> str:
        return f"{self.event} → {self.channel}:{self.recipient} ({self.state})"


class TeamWebhook(models.Model):
    """A team's Slack-compatible incoming webhook. The URL is a secret (whoever has it can post)."""

    team = models.OneToOneField("core.Team", on_delete=models.CASCADE, related_name="notification_webhook")
    url = models.URLField(max_length=1000)
    enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"webhook of team {self.team}"


class ModelWatch(models.Model):
    """A user who wants every notification about one registered model."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="model_watches")
    model_name = models.CharField(max_length=256)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "model_name"], name="model_watch_unique")]

    def __str__(self) -> str:
        return f"{self.user} watches {self.model_name}"
