"""Promotion state kept by mlopsadmin: gate policies, the alias history MLflow does not keep, the
last alias state seen (for detecting external changes) and the database lock lease per model."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class GatePolicy(models.Model):
    """Per-model validation gate settings; a model without a row uses the defaults."""

    model_name = models.CharField(max_length=256, unique=True)
    metric = models.CharField(max_length=250, blank=True, help_text="Empty: the default gate metric.")
    threshold = models.FloatField(default=0.80)
    max_drop_pct = models.FloatField(default=2.0, help_text="Largest allowed drop vs. the champion, in %.")
    require_approval = models.BooleanField(default=True)
    direction = models.CharField(
        max_length=8,
        blank=True,
        choices=[("", "by the metric's name"), ("higher", "higher is better"), ("lower", "lower is better")],
        help_text="Empty: from the metric's name (loss, error, latency... are lower-is-better).",
    )
    count_imported_approvals = models.BooleanField(
        default=True, help_text="Approvals found in MLflow tags (recorded outside mlopsadmin) satisfy the gate."
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.CharField(max_length=150, blank=True)

    def __str__(self) -> str:
        return f"gate policy of {self.model_name}"


class AliasEvent(models.Model):
    """One alias move: by mlopsadmin (with gate result) or detected as an external change."""

    SOURCE_MLOPSADMIN = "mlopsadmin"
    SOURCE_EXTERNAL = "external"
    SOURCE_BASELINE = "baseline"  # aliases as found when mlopsadmin first read the model (or its re-creation)
    SOURCES = [
        (SOURCE_MLOPSADMIN, "mlopsadmin"),
        (SOURCE_EXTERNAL, "external change"),
        (SOURCE_BASELINE, "baseline (first sync)"),
    ]

    model_name = models.CharField(max_length=256)
    alias = models.CharField(max_length=256)
    from_version = models.CharField(max_length=32, blank=True)
    to_version = models.CharField(max_length=32, blank=True, help_text="Empty: the alias was removed.")
    action = models.CharField(max_length=32, help_text="challenger, promote, rollback, repair, external")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    occurred_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True)
    gate = models.JSONField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=SOURCES, default=SOURCE_MLOPSADMIN)
    outcome = models.CharField(max_length=16, default="ok")

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["model_name", "-occurred_at"], name="alias_event_model_idx")]

    def __str__(self) -> str:
        return f"{self.model_name}@{self.alias}: {self.from_version or '-'} → {self.to_version or '-'}"


class AliasState(models.Model):
    """The aliases of a model as mlopsadmin last knew them."""

    model_name = models.CharField(max_length=256, unique=True)
    aliases = models.JSONField(default=dict)
    model_created = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="MLflow's creation_timestamp (ms) of the registered model these aliases belong to; another "
        "value means the model was deleted and re-created under the same name (a new history).",
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.model_name}: {self.aliases}"


class AliasWatch(models.Model):
    """When mlopsadmin began watching aliases: the start of its first reconcile sweep over every model
    (manage.py alias_baseline at install, or the first scheduled sweep). One row. A model MLflow created
    after this had no aliases before mlopsadmin watched: whatever aliases it has when first read were set
    outside mlopsadmin, and are recorded as external changes, not as its baseline (issue 16, case 7)."""

    started_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"alias history watched since {self.started_at:%Y-%m-%d %H:%M:%S}"


class ModelLock(models.Model):
    """Database lock lease for one model (used when Redis is not configured)."""

    model_name = models.CharField(max_length=256, unique=True)
    holder = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"lock {self.model_name}"


class AliasChangeIntent(models.Model):
    """An alias change between its intent (a `pending` audit event written before MLflow is touched) and
    its outcome as read back from MLflow. `open`: the outcome is not known yet (the process died, or MLflow
    could not be read back); `watch`: recorded, but a write whose answer was lost may still be applied
    until `watch_until`; `closed`: nothing left to attribute. Reconciliation resolves open and watched
    intents, attributing the moves to the original actor and action."""

    OPEN, WATCH, CLOSED = "open", "watch", "closed"

    model_name = models.CharField(max_length=256)
    audit_action = models.CharField(max_length=64)
    audit_event_id = models.BigIntegerField(help_text="The pending audit event of the intent.")
    plan = models.JSONField(help_text="action, before, moves [[alias, from, to]], tags [[version, key, value]].")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    team = models.CharField(max_length=64, blank=True)
    reason = models.TextField(blank=True)
    status = models.CharField(max_length=8, default=OPEN)
    recorded_applied = models.JSONField(default=list, help_text="Step labels already recorded as applied.")
    created_at = models.DateTimeField(default=timezone.now)
    watch_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "model_name"], name="alias_intent_status_idx")]

    def __str__(self) -> str:
        return f"{self.audit_action} {self.model_name} ({self.status})"
