"""Shared core data: teams, memberships, API tokens and the append-only audit log."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

TEAM_PREFIX_RE = re.compile(r"^/[a-z0-9]+(?:-[a-z0-9]+)*$")


class Team(models.Model):
    """A team owns experiments (by name prefix) and registered models (explicitly or by name rule)."""

    name = models.SlugField(max_length=64, unique=True, help_text="Short team key, e.g. 'search'.")
    display_name = models.CharField(max_length=128, blank=True)
    experiment_prefix = models.CharField(
        max_length=64, unique=True, help_text="Experiment name prefix, e.g. '/search-team'."
    )
    model_name_pattern = models.CharField(
        max_length=256,
        blank=True,
        help_text="Regular expression; registered models whose name matches belong to this team "
        "unless assigned explicitly.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.display_name or self.name


class Membership(models.Model):
    """Ties a user to a team. Whether they lead it comes from the 'ML lead' role (a group)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    can_edit = models.BooleanField(default=True, help_text="May edit tags and request approvals.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class ModelOwnership(models.Model):
    """Explicit assignment of a registered model to a team (wins over the team's name rule)."""

    model_name = models.CharField(max_length=256, unique=True)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="owned_models")

    def __str__(self) -> str:
        return f"{self.model_name} → {self.team}"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A per-user bearer token for CI pipelines. Only its SHA-256 is stored; it acts as its user."""

    PREFIX = "mlops_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=16, help_text="First characters, to recognise the token.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Refused from this moment on; empty: never.")
    read_only = models.BooleanField(
        default=False, help_text="May only read (GET): every other API request is refused, whatever its user may do."
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @property
    def scope(self) -> str:
        return "read-only" if self.read_only else "read-write"

    @classmethod
    def new_raw_token(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)


class AppendOnlyQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise AuditImmutableError("Audit events cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditImmutableError("Audit events cannot be deleted.")


class AuditImmutableError(Exception):
    pass


class AuditEvent(models.Model):
    """One state change: who, when, what, on which target, before and after.

    Append-only: save() refuses to update, delete() refuses; on PostgreSQL a trigger refuses UPDATE
    and DELETE too. `event_hash` chains each event to the previous one (tamper evidence).
    """

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150, help_text="Username, or 'system:<task>' for schedules.")
    action = models.CharField(max_length=64)
    target_kind = models.CharField(max_length=32)
    target_id = models.CharField(max_length=512)
    team = models.CharField(max_length=64, blank=True, help_text="Team key at the time of the event.")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, default="ok", help_text="ok, partial or failed")
    prev_hash = models.CharField(max_length=64)
    event_hash = models.CharField(max_length=64, unique=True)
    chain_version = models.PositiveSmallIntegerField(
        default=1, help_text="1: unkeyed SHA-256 (events before the keyed chain); 2: HMAC-SHA256 with AUDIT_HMAC_KEY."
    )
    operation_id = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="The id of the event that started the operation this event is an item of (a cleanup's "
        "cleanup.execute for its run.delete events); empty for an operation's first event and single events.",
    )

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["actor_name", "-id"], name="audit_actor_idx"),
            models.Index(fields=["action", "-id"], name="audit_action_idx"),
            models.Index(fields=["team", "-id"], name="audit_team_idx"),
            models.Index(fields=["target_kind", "target_id", "-id"], name="audit_target_idx"),
            models.Index(fields=["occurred_at", "id"], name="audit_time_idx"),
            models.Index(fields=["operation_id", "id"], name="audit_operation_idx"),
            # the audit page lists operations and single events: the rows without an operation, newest first
            models.Index(fields=["-id"], condition=models.Q(operation_id__isnull=True), name="audit_top_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.target_kind}:{self.target_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None or kwargs.get("force_update"):
            raise AuditImmutableError("Audit events cannot be changed once written.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditImmutableError("Audit events cannot be deleted.")


class AuditCheckpointMark(models.Model):
    """That a checkpoint of the audit chain was written to `location` (AUDIT_CHECKPOINT_PATH), and where it
    stood: a checkpoint missing later (deleted or moved) is then reported, never taken as "none written yet"
    and silently re-created at a possibly shortened head (mlopsadmin/audit/checkpoint.py)."""

    location = models.CharField(max_length=1000, unique=True)
    event_id = models.BigIntegerField()
    count = models.BigIntegerField()
    written_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"audit checkpoint {self.location} at #{self.event_id}"
