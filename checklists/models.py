"""Versioned checklist definitions, their dated instances, and tracking-server latency samples.

A definition is immutable once written: editing order or wording makes a new version. An instance
copies its items' text at creation, so later edits never rewrite what was checked (or signed).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

KIND_INITIAL = "initial"
KIND_WEEKLY = "weekly"
KIND_MONTHLY = "monthly"
KINDS = [KIND_INITIAL, KIND_WEEKLY, KIND_MONTHLY]
KIND_CHOICES = [(KIND_INITIAL, "Initial setup"), (KIND_WEEKLY, "Weekly"), (KIND_MONTHLY, "Monthly")]

MODE_AUTO = "auto"  # the probe decides the item
MODE_MANUAL = "manual"  # a person ticks it
MODE_BOTH = "manual+probe"  # the probe gathers evidence, a person ticks it
MODE_CHOICES = [(MODE_AUTO, "Automatic"), (MODE_MANUAL, "Manual"), (MODE_BOTH, "Manual with probe evidence")]

PASS, FAIL, WARN, UNKNOWN, PENDING = "pass", "fail", "warn", "unknown", "pending"
PROBE_STATUSES = [PASS, FAIL, WARN, UNKNOWN]
TICK_OUTCOMES = [PASS, FAIL, "n/a"]


class ChecklistDefinition(models.Model):
    kind = models.CharField(max_length=16, choices=KIND_CHOICES)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    code_version = models.PositiveIntegerField(help_text="Version of the file in the code base it derives from.")
    source = models.CharField(max_length=16, default="code", help_text="code (loaded from the repository) or ui")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=150, default="system")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["kind", "-version"]
        constraints = [models.UniqueConstraint(fields=["kind", "version"], name="checklist_definition_version")]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


class DefinitionItem(models.Model):
    definition = models.ForeignKey(ChecklistDefinition, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    key = models.SlugField(max_length=64)
    text = models.CharField(max_length=500)
    mode = models.CharField(max_length=16, choices=MODE_CHOICES)
    probe = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["definition", "position"]
        constraints = [models.UniqueConstraint(fields=["definition", "key"], name="checklist_definition_item_key")]

    def __str__(self) -> str:
        return self.text


class ChecklistInstance(models.Model):
    definition = models.ForeignKey(ChecklistDefinition, on_delete=models.PROTECT, related_name="instances")
    kind = models.CharField(max_length=16, choices=KIND_CHOICES)
    period_key = models.CharField(max_length=300, help_text="2026-W48, 2026-11, or initial:<tracking URI>")
    period_start = models.DateField()
    period_end = models.DateField(null=True, blank=True, help_text="Due date; none for the initial checklist.")
    tracking_uri = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    probed_at = models.DateTimeField(null=True, blank=True)
    signed_off_at = models.DateTimeField(null=True, blank=True)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_off_name = models.CharField(max_length=150, blank=True)
    sign_off_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-period_start", "kind"]
        constraints = [models.UniqueConstraint(fields=["kind", "period_key"], name="checklist_instance_period")]
        indexes = [models.Index(fields=["signed_off_at", "period_end"], name="checklist_open_idx")]

    def __str__(self) -> str:
        if self.kind == KIND_INITIAL:
            return "Initial setup"
        return f"{self.get_kind_display()} {self.period_label}"

    @property
    def is_signed(self) -> bool:
        return self.signed_off_at is not None

    @property
    def period_label(self) -> str:
        return "setup" if self.kind == KIND_INITIAL else self.period_key

    def is_overdue(self, today: object = None) -> bool:
        today = today or timezone.localdate()
        return not self.is_signed and self.period_end is not None and self.period_end < today  # type: ignore[operator]


class InstanceItem(models.Model):
    instance = models.ForeignKey(ChecklistInstance, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    key = models.SlugField(max_length=64)
    text = models.CharField(max_length=500)
    mode = models.CharField(max_length=16, choices=MODE_CHOICES)
    probe = models.CharField(max_length=64, blank=True)
    # Probe result (auto and manual+probe items)
    probe_status = models.CharField(max_length=16, default=UNKNOWN)
    evidence = models.TextField(blank=True)
    measured_at = models.DateTimeField(null=True, blank=True)
    # Tick (manual and manual+probe items)
    tick_outcome = models.CharField(max_length=16, blank=True)
    note = models.TextField(blank=True)
    evidence_link = models.URLField(max_length=500, blank=True)
    ticked_at = models.DateTimeField(null=True, blank=True)
    ticked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ticked_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["instance", "position"]
        constraints = [models.UniqueConstraint(fields=["instance", "key"], name="checklist_instance_item_key")]

    def __str__(self) -> str:
        return self.text

    @property
    def has_probe(self) -> bool:
        return self.mode in (MODE_AUTO, MODE_BOTH) and bool(self.probe)

    @property
    def needs_tick(self) -> bool:
        return self.mode in (MODE_MANUAL, MODE_BOTH)

    @property
    def status(self) -> str:
        """What the item counts as: the probe for automatic items, the tick for manual ones."""
        if self.mode == MODE_AUTO:
            return self.probe_status
        if not self.tick_outcome:
            return PENDING
        return PASS if self.tick_outcome == "n/a" else self.tick_outcome


class LatencySample(models.Model):
    measured_at = models.DateTimeField(default=timezone.now, db_index=True)
    operation = models.CharField(max_length=100)
    milliseconds = models.FloatField()
    ok = models.BooleanField(default=True)
    tracking_uri = models.CharField(max_length=500)

    class Meta:
        ordering = ["-measured_at"]

    def __str__(self) -> str:
        return f"{self.operation} {self.milliseconds:.0f} ms"
