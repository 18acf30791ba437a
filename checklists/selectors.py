"""Reads of the checklists feature: current and past instances, counts, overdue work, latency."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from checklists.models import (
    FAIL,
    KIND_INITIAL,
    KIND_MONTHLY,
    KIND_WEEKLY,
    PENDING,
    ChecklistDefinition,
    ChecklistInstance,
    InstanceItem,
    LatencySample,
)
from checklists.probes import p95
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib.uris import without_credentials

KIND_ORDER = {KIND_WEEKLY: 0, KIND_MONTHLY: 1, KIND_INITIAL: 2}


@dataclass
class InstanceSummary:
    instance: ChecklistInstance
    counts: Counter[str] = field(default_factory=Counter)
    overdue: bool = False

    @property
    def failing(self) -> int:
        return self.counts.get(FAIL, 0)

    @property
    def pending(self) -> int:
        return self.counts.get(PENDING, 0)


def summarize(instance: ChecklistInstance) -> InstanceSummary:
    counts = Counter(item.status for item in instance.items.all())
    return InstanceSummary(instance=instance, counts=counts, overdue=instance.is_overdue())


def current_instances() -> list[ChecklistInstance]:
    """The newest weekly and monthly instance, and this tracking server's initial checklist."""
    found = []
    for kind in (KIND_WEEKLY, KIND_MONTHLY):
        instance = ChecklistInstance.objects.filter(kind=kind).order_by("-period_start", "-id").first()
        if instance:
            found.append(instance)
    uri = without_credentials(mlf.tracking_uri())
    initial = ChecklistInstance.objects.filter(kind=KIND_INITIAL, tracking_uri=uri).first()
    if initial:
        found.append(initial)
    return found


def instances_with_items(ids: list[int] | None = None) -> QuerySet[ChecklistInstance]:
    queryset = ChecklistInstance.objects.prefetch_related("items").select_related("definition")
    return queryset.filter(pk__in=ids) if ids is not None else queryset


def past_instances() -> QuerySet[ChecklistInstance]:
    current = [i.pk for i in current_instances()]
    return ChecklistInstance.objects.exclude(pk__in=current).order_by("-period_start", "-id")


def open_instances() -> QuerySet[ChecklistInstance]:
    return ChecklistInstance.objects.filter(signed_off_at__isnull=True)


def overdue_instances() -> list[ChecklistInstance]:
    today = timezone.localdate()
    return list(open_instances().filter(period_end__lt=today).order_by("period_end"))


def failing_items(current: list[ChecklistInstance] | None = None) -> list[InstanceItem]:
    """Failing items of the open current instances (what the home page highlights); `current` when the
    caller has already read current_instances()."""
    ids = [i.pk for i in (current_instances() if current is None else current) if not i.is_signed]
    items = InstanceItem.objects.filter(instance_id__in=ids).select_related("instance")
    return [item for item in items if item.status == FAIL]


def items_due(current: list[ChecklistInstance] | None = None) -> list[InstanceItem]:
    """Items of the open current instances that wait for a person: a manual tick not given yet, or a
    failing result; the earliest due date first (the initial checklist, which has none, last)."""
    ids = [i.pk for i in (current_instances() if current is None else current) if not i.is_signed]
    items = InstanceItem.objects.filter(instance_id__in=ids).select_related("instance")
    due = [item for item in items if item.status in (PENDING, FAIL)]
    return sorted(due, key=lambda i: (i.instance.period_end is None, i.instance.period_end or 0, i.position))


def instance_get(instance_id: int) -> ChecklistInstance | None:
    if not 0 < instance_id < 2**31:
        return None
    return instances_with_items([instance_id]).first()


def definitions_current() -> list[ChecklistDefinition]:
    latest = []
    for kind in (KIND_WEEKLY, KIND_MONTHLY, KIND_INITIAL):
        definition = ChecklistDefinition.objects.filter(kind=kind).order_by("-version").first()
        if definition:
            latest.append(definition)
    return latest


def definition_history(kind: str) -> QuerySet[ChecklistDefinition]:
    return ChecklistDefinition.objects.filter(kind=kind).order_by("-version").prefetch_related("items")


@dataclass(frozen=True)
class LatencyStats:
    count: int
    p95_ms: float | None
    threshold_ms: float
    last_at: object


def latency_stats() -> LatencyStats:
    window = timezone.now() - timedelta(hours=settings.CHECKLIST_LATENCY_WINDOW_HOURS)
    rows = LatencySample.objects.filter(measured_at__gte=window, tracking_uri=without_credentials(mlf.tracking_uri()))
    values = list(rows.values_list("milliseconds", flat=True))
    last = rows.order_by("-measured_at").values_list("measured_at", flat=True).first()
    return LatencyStats(
        count=len(values),
        p95_ms=p95(values) if values else None,
        threshold_ms=settings.CHECKLIST_LATENCY_P95_MS,
        last_at=last,
    )
