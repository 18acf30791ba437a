"""Who signed in through the identity provider: one row per (issuer, subject), tied to one user."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ExternalIdentity(models.Model):
    """The identity provider's stable subject of a user. Users are matched by this, never by e-mail or
    name (both can be reassigned at the provider)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identity")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    groups = models.JSONField(default=list, blank=True, help_text="The groups claim at the last sign-in.")
    first_sign_in_at = models.DateTimeField(default=timezone.now)
    last_sign_in_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="external_identity_unique")]

    def __str__(self) -> str:
        return f"{self.user} ({self.subject} at {self.issuer})"
