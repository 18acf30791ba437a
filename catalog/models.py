"""The local index of the experiment catalog, the naming convention, and the sync state.

Pages read only from here; `catalog.sync` keeps it in step with MLflow.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from catalog import naming


def _default_reserved() -> list[str]:
    return list(naming.DEFAULT_RESERVED_WORDS)


def _default_required_tags() -> list[str]:
    return list(naming.DEFAULT_REQUIRED_TAGS)


class NamingConvention(models.Model):
    """The one convention (row pk=1). Team prefixes live on core.Team, not here."""

    segment_pattern = models.CharField(
        max_length=200,
        default=naming.DEFAULT_SEGMENT_PATTERN,
        help_text="Regular expression each project / experiment-type segment must match in full.",
    )
    reserved_words = models.JSONField(default=_default_reserved, blank=True)
    required_tags = models.JSONField(default=_default_required_tags, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return "Experiment naming convention"


class CatalogExperiment(models.Model):
    """One MLflow experiment as last seen by the sync, with its naming and tag compliance."""

    experiment_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=500, db_index=True)
    lifecycle_stage = models.CharField(max_length=16, default="active", db_index=True)
    last_update_time = models.BigIntegerField(null=True, blank=True, help_text="MLflow's, in ms")
    # naming (re-evaluated from the local index whenever the convention or the teams change)
    team = models.ForeignKey("core.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    team_key = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="Owning team: the name's prefix, else the runs' dominant team tag.",
    )
    project = models.CharField(max_length=200, blank=True)
    experiment_type = models.CharField(max_length=200, blank=True)
    violations = models.JSONField(default=list, blank=True)
    violation_kinds = models.CharField(
        max_length=200, blank=True, help_text="Space-delimited kinds, ' flat reserved ', for filtering."
    )
    name_compliant = models.BooleanField(default=True, db_index=True)
    suggested_name = models.CharField(max_length=500, blank=True)
    # runs (from the last run scan)
    run_count = models.IntegerField(default=0)
    last_activity = models.DateTimeField(null=True, blank=True)
    dominant_team_tag = models.CharField(max_length=64, blank=True)
    team_tag = models.CharField(
        max_length=64, blank=True, help_text="The experiment's own 'team' tag (wins over its runs' tags)."
    )
    missing_tag_counts = models.JSONField(default=dict, blank=True, help_text="required tag -> runs missing it")
    missing_tags = models.CharField(max_length=500, blank=True, help_text="' team owner ', for filtering.")
    runs_missing_any = models.IntegerField(default=0)
    tags_compliant = models.BooleanField(default=True, db_index=True)
    runs_scanned_at = models.DateTimeField(null=True, blank=True)
    deleted_run_count = models.IntegerField(
        null=True, blank=True, help_text="Soft-deleted runs MLflow listed at the last sync (None: not counted yet)."
    )
    deleted_runs_digest = models.CharField(
        max_length=64,
        blank=True,
        help_text="sha256 of the sorted ids of those soft-deleted runs ('' not taken yet): a restore of one run "
        "and a deletion of another between two syncs change it, not the count.",
    )
    first_seen_at = models.DateTimeField(default=timezone.now)
    synced_at = models.DateTimeField(default=timezone.now)
    previous_name = models.CharField(max_length=500, blank=True, help_text="Set when the sync saw a rename.")

    class Meta:
        ordering = ["team_key", "project", "name"]
        indexes = [
            models.Index(fields=["lifecycle_stage", "team_key", "project", "name"], name="catalog_group_idx"),
            models.Index(fields=["lifecycle_stage", "last_activity"], name="catalog_activity_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_deleted(self) -> bool:
        return self.lifecycle_stage != "active"

    @property
    def compliant(self) -> bool:
        return self.name_compliant and self.tags_compliant


class CatalogIndexState(models.Model):
    """The index's version (row pk=1), bumped by every write to the index. Cached summaries are keyed by it,
    so a summary can never outlive the index it summarises (the cache may evict or expire anything)."""

    version = models.BigIntegerField(default=1)

    def __str__(self) -> str:
        return f"catalog index v{self.version}"


class CatalogTagCount(models.Model):
    """How many of an experiment's runs carry a tag key (any key, so a new required tag needs no rescan)."""

    experiment = models.ForeignKey(CatalogExperiment, on_delete=models.CASCADE, related_name="tag_counts")
    tag = models.CharField(max_length=250)
    present = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["experiment", "tag"], name="catalog_tagcount_unique")]

    def __str__(self) -> str:
        return f"{self.experiment_id}:{self.tag}={self.present}"
