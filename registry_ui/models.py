"""Registry data kept by mlopsadmin (MLflow has none of it): approval requests, the naming-lint word
lists and the list of required version metadata keys. All three are editable data, audited on change."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ApprovalState(models.TextChoices):
    PENDING = "pending", "pending"
    APPROVED = "approved", "approved"
    REJECTED = "rejected", "rejected"
    WITHDRAWN = "withdrawn", "withdrawn"


DECIDED_STATES = (ApprovalState.APPROVED, ApprovalState.REJECTED)


class ApprovalRequest(models.Model):
    """One request to approve one model version. The state machine lives in registry_ui.approvals.services:
    pending → approved | rejected (an ML lead of the owning team, never the requester) | withdrawn."""

    model_name = models.CharField(max_length=256)
    version = models.CharField(max_length=32)
    team = models.CharField(max_length=64, blank=True, help_text="Owning team key when requested.")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=ApprovalState.choices, default=ApprovalState.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    unconfirmed = models.JSONField(
        null=True,
        blank=True,
        help_text="An approval whose MLflow outcome was unknown (MLflow not readable after a failed tag write): "
        "decider_id, tags, before, comment, at. Resolved from what MLflow shows (approvals/unconfirmed.py).",
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["model_name", "version", "-created_at"], name="approval_version_idx"),
            models.Index(fields=["state", "team", "created_at"], name="approval_inbox_idx"),
        ]
        constraints = [
            # At most one pending request per version, even with two requests racing.
            models.UniqueConstraint(
                fields=["model_name", "version"], condition=Q(state="pending"), name="approval_one_pending_per_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_name}/{self.version} ({self.state})"

    @property
    def target_id(self) -> str:
        return f"{self.model_name}/{self.version}"


class NamingWordKind(models.TextChoices):
    ALGORITHM = "algorithm", "algorithm or framework"
    RESERVED = "reserved", "reserved word (final, test…)"


class NamingWord(models.Model):
    """A word that must not appear in a registered model name (the lint's editable word lists)."""

    word = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=NamingWordKind.choices)

    class Meta:
        ordering = ["kind", "word"]

    def __str__(self) -> str:
        return f"{self.word} ({self.kind})"


class RequiredMetadataKey(models.Model):
    """A version tag every model version should carry (shown as missing on the model page)."""

    key = models.CharField(max_length=250, unique=True)
    description = models.CharField(max_length=200, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "key"]

    def __str__(self) -> str:
        return self.key


class ImportedApproval(models.Model):
    """An approval recorded outside mlopsadmin: the version's MLflow tags `approved_by` / `approval_date`
    (as the operations guide writes them by hand), imported as found (registry_ui.approvals.imports).
    A decision made in mlopsadmin supersedes it; the gate policy says whether it counts."""

    model_name = models.CharField(max_length=256)
    version = models.CharField(max_length=32)
    approved_by = models.CharField(max_length=150, help_text="As the approved_by tag says (not a user here).")
    approval_date = models.CharField(max_length=32, blank=True, help_text="As the approval_date tag says.")
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model_name", "version"], name="imported_approval_version")]

    def __str__(self) -> str:
        return f"{self.model_name}/{self.version} approved by {self.approved_by} (imported)"
