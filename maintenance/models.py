"""Maintenance records: task runs (every execution of a maintenance task), cleanup plans and their
items, and capacity samples."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class TaskKind(models.TextChoices):
    CLEANUP_PLAN = "cleanup_plan", "Cleanup plan (dry run)"
    CLEANUP_EXECUTE = "cleanup_execute", "Cleanup execute"
    REAPER = "reaper", "Stuck-run reaper"
    CAPACITY = "capacity", "Capacity check"
    CATALOG_SYNC = "catalog_sync", "Catalog sync"
    CLEANUP_RESTORE = "cleanup_restore", "Cleanup restore"
    REGISTRY_SYNC = "registry_sync", "Registry index sync"
    ENVIRONMENT_COPY = "environment_copy", "Copy to the next environment"


# Kinds of which several may be queued or running at once: copies of different models to other
# environments (issue 22) do not exclude each other; one copy into one model is kept out by its own lock.
PARALLEL_KINDS = (TaskKind.ENVIRONMENT_COPY,)


class TaskState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    INTERRUPTED = "interrupted", "Interrupted"


ACTIVE_STATES = (TaskState.QUEUED, TaskState.RUNNING)
FINAL_STATES = (TaskState.SUCCEEDED, TaskState.FAILED, TaskState.INTERRUPTED)


class TaskRun(models.Model):
    """One execution of a maintenance task. At most one queued-or-running task per kind (a partial
    unique constraint), claimed with conditional updates; the heartbeat tells a live worker from a
    lost one."""

    kind = models.CharField(max_length=32, choices=TaskKind.choices)
    parameters = models.JSONField(default=dict, blank=True)
    started_by = models.CharField(max_length=150, help_text="Username, or 'schedule:<entry>'.")
    started_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=16, choices=TaskState.choices, default=TaskState.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    report = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(state__in=["queued", "running"]) & ~Q(kind__in=["environment_copy"]),
                name="maintenance_one_active_task_per_kind",
            ),
        ]
        indexes = [models.Index(fields=["kind", "state", "-finished_at"], name="taskrun_kind_state_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def duration(self) -> timedelta | None:
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at

    @property
    def percent(self) -> int:
        if not self.progress_total:
            return 100 if self.state == TaskState.SUCCEEDED else 0
        return min(100, int(100 * self.progress_done / self.progress_total))


class PlanState(models.TextChoices):
    PLANNING = "planning", "Planning"
    READY = "ready", "Ready for review"
    EXECUTING = "executing", "Executing"
    EXECUTED = "executed", "Executed"
    FAILED = "failed", "Failed"


class CleanupPlan(models.Model):
    """A dry run's result: what a cleanup would delete (candidates) and what it keeps (exclusions)."""

    scope = models.CharField(max_length=16, help_text="experiment, team or all")
    scope_value = models.CharField(max_length=512, blank=True)
    older_than_days = models.PositiveIntegerField()
    statuses = models.JSONField(default=list)
    cutoff_ms = models.BigIntegerField()
    state = models.CharField(max_length=16, choices=PlanState.choices, default=PlanState.PLANNING)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    planned_at = models.DateTimeField(null=True, blank=True)
    plan_task = models.ForeignKey(TaskRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    execute_task = models.ForeignKey(TaskRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    executed_by = models.CharField(max_length=150, blank=True)
    purge = models.BooleanField(default=False)
    candidate_count = models.PositiveIntegerField(default=0)
    excluded_count = models.PositiveIntegerField(default=0)
    estimated_bytes = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Cleanup plan #{self.pk} ({self.scope} {self.scope_value})"

    @property
    def scope_label(self) -> str:
        return "all experiments" if self.scope == "all" else f"{self.scope} {self.scope_value}"

    @property
    def interrupted(self) -> bool:
        """Executing, but no task is on it any more: its execute task was interrupted (worker lost) or never
        started (broker down). It can be resumed (cleanup/resume.py)."""
        return self.state == PlanState.EXECUTING and bool(
            self.execute_task and self.execute_task.state in (TaskState.INTERRUPTED, TaskState.FAILED)
        )

    @property
    def display_state(self) -> str:
        """The state people see: 'interrupted' for an executing plan whose worker was lost."""
        return "interrupted" if self.interrupted else self.state


class ItemOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    CLAIMED = "claimed", "Claimed"
    DELETING = "deleting", "Delete sent, not yet recorded"
    DELETED = "deleted", "Deleted"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class PlanItem(models.Model):
    """One run in a plan: a candidate (excluded=False) or an exclusion with its reason."""

    plan = models.ForeignKey(CleanupPlan, on_delete=models.CASCADE, related_name="items")
    run_id = models.CharField(max_length=64)
    experiment_id = models.CharField(max_length=64)
    experiment_name = models.CharField(max_length=512, blank=True)
    team = models.CharField(max_length=64, blank=True)
    run_name = models.CharField(max_length=256, blank=True)
    status = models.CharField(max_length=16)
    end_time = models.BigIntegerField(null=True, blank=True)
    excluded = models.BooleanField(default=False)
    reason = models.CharField(max_length=256)
    estimated_bytes = models.BigIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=ItemOutcome.choices, default=ItemOutcome.PENDING)
    outcome_reason = models.CharField(max_length=256, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.ForeignKey(
        TaskRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The execute task that claimed the run (whose actor a recovered deletion is attributed to).",
    )
    # Undo (maintenance/cleanup/restore.py): restored, refused (purged), skipped (already back) or failed
    restore_outcome = models.CharField(max_length=16, blank=True)
    restore_reason = models.CharField(max_length=256, blank=True)
    restored_at = models.DateTimeField(null=True, blank=True, help_text="Also the catalog's mark to rescan.")
    restored_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["plan", "run_id"], name="planitem_unique_run")]
        indexes = [models.Index(fields=["plan", "excluded", "outcome"], name="planitem_plan_idx")]

    def __str__(self) -> str:
        return f"{self.run_id} ({'excluded' if self.excluded else 'candidate'})"


class ReapOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    CLAIMED = "claimed", "Claimed"
    REAPING = "reaping", "Terminate sent, not yet recorded"
    REAPED = "reaped", "Reaped"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class ReapItem(models.Model):
    """One run a reaper dry run listed as stuck: the reviewed list that "reap these now" reaps exactly
    (maintenance/reap_listed.py), each re-checked at that moment; its outcome and why."""

    dry_run = models.ForeignKey(TaskRun, on_delete=models.CASCADE, related_name="reap_items")
    run_id = models.CharField(max_length=64)
    experiment_id = models.CharField(max_length=64)
    run_name = models.CharField(max_length=256, blank=True)
    started = models.CharField(max_length=32, blank=True)
    outcome = models.CharField(max_length=16, choices=ReapOutcome.choices, default=ReapOutcome.PENDING)
    outcome_reason = models.CharField(max_length=256, blank=True)
    reap_task = models.ForeignKey(TaskRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    executed_at = models.DateTimeField(null=True, blank=True)
    planned = models.JSONField(
        null=True, blank=True, help_text="While reaping: the end_time and tags sent to MLflow (for recovery)."
    )

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["dry_run", "run_id"], name="reapitem_unique_run")]
        indexes = [models.Index(fields=["dry_run", "outcome"], name="reapitem_dry_run_idx")]

    def __str__(self) -> str:
        return f"{self.run_id} ({self.outcome})"


class CapacitySample(models.Model):
    """One measured size. scope: experiment / team / store / database / total."""

    task_run = models.ForeignKey(TaskRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    measured_at = models.DateTimeField(default=timezone.now, db_index=True)
    scope = models.CharField(max_length=16)
    key = models.CharField(max_length=512)
    label = models.CharField(max_length=512, blank=True)
    team = models.CharField(max_length=64, blank=True)
    store = models.CharField(max_length=512, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True, help_text="None: unknown")
    object_count = models.BigIntegerField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-measured_at", "-id"]
        indexes = [models.Index(fields=["scope", "key", "-measured_at"], name="capacity_scope_key_idx")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key} = {self.size_bytes}"
