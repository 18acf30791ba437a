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
    run_id = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="MLflow run of the version when requested, where the version lives elsewhere (a copy into "
        "another environment): a model deleted and registered again reuses version numbers, not runs.",
    )
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


# --- The local index of the registry (pages read it; registry_ui.index_sync keeps it in step with MLflow) ---
class IndexedModel(models.Model):
    """A registered model as mlopsadmin last read it from MLflow (a sync, a webhook, or its own change)."""

    name = models.CharField(max_length=256, unique=True)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    aliases = models.JSONField(default=dict, blank=True, help_text="alias -> version (str)")
    latest_version = models.CharField(max_length=32, blank=True)
    version_count = models.IntegerField(default=0)
    creation_timestamp = models.BigIntegerField(null=True, blank=True, help_text="MLflow's, in ms")
    last_updated_timestamp = models.BigIntegerField(null=True, blank=True, help_text="MLflow's, in ms")
    synced_at = models.DateTimeField(default=timezone.now, help_text="When this row was last read from MLflow.")
    versions_synced_at = models.DateTimeField(
        null=True, blank=True, help_text="When its versions were last read (None: not read yet)."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IndexedVersion(models.Model):
    """One model version as mlopsadmin last read it. `run_id` is the version's source run, resolved from
    every source form the gate knows (run_id, `runs:/…`, a logged model's source run); '' when none."""

    model = models.ForeignKey(IndexedModel, on_delete=models.CASCADE, related_name="versions")
    number = models.IntegerField()
    run_id = models.CharField(max_length=64, blank=True)
    source = models.TextField(blank=True)
    status = models.CharField(max_length=32, blank=True)
    current_stage = models.CharField(max_length=32, blank=True)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)
    creation_timestamp = models.BigIntegerField(null=True, blank=True)
    last_updated_timestamp = models.BigIntegerField(null=True, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["model", "-number"]
        constraints = [models.UniqueConstraint(fields=["model", "number"], name="indexed_version_number")]
        indexes = [models.Index(fields=["run_id"], name="indexed_version_run_idx")]

    def __str__(self) -> str:
        return f"{self.model_id}/{self.number}"


class IndexedRun(models.Model):
    """A source run of a model version as last read: what the model and version pages show of it (latest
    metric values — NaN/±inf kept as MLflow's strings —, params, the lineage tags, its lifecycle stage;
    'missing' when MLflow no longer has it)."""

    run_id = models.CharField(max_length=64, unique=True)
    experiment_id = models.CharField(max_length=64, blank=True)
    experiment_name = models.CharField(max_length=500, blank=True)
    experiment_stage = models.CharField(
        max_length=16, default="active", help_text="Its experiment's lifecycle stage (gc removes a deleted one)."
    )
    run_name = models.CharField(max_length=250, blank=True)
    status = models.CharField(max_length=16, blank=True)
    lifecycle_stage = models.CharField(max_length=16, default="active")
    artifact_uri = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=dict, blank=True, help_text="Only the tags the pages show.")
    start_time = models.BigIntegerField(null=True, blank=True)
    end_time = models.BigIntegerField(null=True, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.run_id


class RegistryIndexState(models.Model):
    """The one row (pk=1) saying how fresh the index is."""

    last_sync_started_at = models.DateTimeField(null=True, blank=True, help_text="Start of the last good sync.")
    models_listed_at = models.DateTimeField(
        null=True, blank=True, help_text="Last complete model listing (a sync, or the first registry page view)."
    )
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    watermark_ms = models.BigIntegerField(
        null=True, blank=True, help_text="Newest version last_updated_timestamp seen by a completed sync (ms)."
    )

    def __str__(self) -> str:
        return "Registry index state"


class TagWriteWatch(models.Model):
    """A metadata tag write (registry_ui.services.version_tag_set) whose outcome MLflow has not settled: its
    answer was lost and MLflow could not be read back (`recorded` = unknown), or the read-back did not show it
    yet (`recorded` = failed; MLflow may still apply it from its backlog until `watch_until`). Resolved from
    what MLflow shows by registry_ui.tag_watch (the approvals import runs it first), attributed to `actor`."""

    model_name = models.CharField(max_length=256)
    version = models.CharField(max_length=32)
    key = models.CharField(max_length=250)
    wanted = models.TextField(null=True, blank=True, help_text="The value asked for (null: the tag deleted).")
    before = models.TextField(null=True, blank=True, help_text="The value before (null: no such tag).")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150)
    team = models.CharField(max_length=64, blank=True)
    recorded = models.CharField(max_length=16, help_text="The outcome recorded at the time: unknown or failed.")
    watch_until = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["model_name", "version"], name="tag_watch_version_idx")]

    def __str__(self) -> str:
        return f"{self.model_name}/{self.version} tag {self.key} ({self.recorded}, watched)"
