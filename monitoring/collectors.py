"""Metrics whose truth is the database, computed when Prometheus scrapes (so every gunicorn worker and
Celery process answers the same numbers without sharing memory): task runs, queue wait, stuck runs,
capacity, pending approvals, alias changes, audit chain status and catalog compliance."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from catalog.models import CatalogExperiment
from maintenance.models import CapacitySample, TaskKind, TaskRun, TaskState
from mlopsadmin.core.models import AuditEvent
from registry_ui.models import ApprovalRequest, ApprovalState
from registry_ui.promotion.models import AliasEvent

AUDIT_CHAIN_CACHE_KEY = "monitoring:audit-chain"


class DatabaseCollector:
    """A prometheus_client collector (register it on a registry; `collect()` runs per scrape)."""

    def collect(self) -> Iterator[Any]:
        yield from task_run_metrics()
        yield from capacity_metrics()
        yield from registry_metrics()
        yield from audit_metrics()
        yield from catalog_metrics()


def task_run_metrics() -> Iterator[Any]:
    runs = CounterMetricFamily(
        "mlopsadmin_task_runs", "Maintenance task runs by kind and state (outcome).", labels=["kind", "state"]
    )
    for row in TaskRun.objects.values("kind", "state").annotate(n=Count("id")).order_by():
        runs.add_metric([row["kind"], row["state"]], row["n"])
    yield runs
    now = timezone.now()
    wait = GaugeMetricFamily(
        "mlopsadmin_task_queue_wait_seconds",
        "Queue wait (created → started) of task runs started in the last 24 h: the longest and the latest.",
        labels=["kind", "stat"],
    )
    recent = TaskRun.objects.filter(started_at__gte=now - timedelta(hours=24)).order_by("-started_at")
    for kind in TaskKind.values:
        waits = [(r.started_at - r.created_at).total_seconds() for r in recent.filter(kind=kind)[:500] if r.started_at]
        if waits:
            wait.add_metric([kind, "max_24h"], max(waits))
            wait.add_metric([kind, "last"], waits[0])
    yield wait
    oldest = TaskRun.objects.filter(state=TaskState.QUEUED).aggregate(oldest=Min("created_at"))["oldest"]
    yield GaugeMetricFamily(
        "mlopsadmin_task_queued_oldest_seconds",
        "Age of the oldest task run still queued (0 when none waits).",
        value=(now - oldest).total_seconds() if oldest else 0.0,
    )
    reaper = TaskRun.objects.filter(kind=TaskKind.REAPER, state=TaskState.SUCCEEDED).order_by("-finished_at").first()
    counts = (reaper.counts or {}) if reaper else {}
    stuck = GaugeMetricFamily(
        "mlopsadmin_stuck_runs", "Stuck runs found and reaped by the last successful reaper run.", labels=["outcome"]
    )
    for outcome in ("stuck", "reaped", "failed"):
        stuck.add_metric([outcome], float(counts.get(outcome, 0)))
    yield stuck


def capacity_metrics() -> Iterator[Any]:
    family = GaugeMetricFamily(
        "mlopsadmin_capacity_bytes",
        "Bytes measured by the last capacity check, by scope (store, team, database, total) and key.",
        labels=["scope", "key", "team", "store"],
    )
    last = CapacitySample.objects.filter(scope="total").order_by("-measured_at", "-id").first()
    if last is not None:
        samples = CapacitySample.objects.filter(
            task_run_id=last.task_run_id, scope__in=("store", "team", "database", "total"), size_bytes__isnull=False
        )
        for s in samples:
            family.add_metric([s.scope, s.label or s.key, s.team, s.store], float(s.size_bytes or 0))
    yield family
    yield GaugeMetricFamily(
        "mlopsadmin_capacity_last_check_timestamp_seconds",
        "When the last capacity check measured (Unix time; 0 if never).",
        value=last.measured_at.timestamp() if last else 0.0,
    )


def registry_metrics() -> Iterator[Any]:
    pending = GaugeMetricFamily(
        "mlopsadmin_pending_approvals", "Approval requests waiting for a decision, by team.", labels=["team"]
    )
    rows = ApprovalRequest.objects.filter(state=ApprovalState.PENDING).values("team").annotate(n=Count("id"))
    for row in rows.order_by():
        pending.add_metric([row["team"] or ""], row["n"])
    yield pending
    aliases = CounterMetricFamily(
        "mlopsadmin_alias_changes",
        "Alias moves recorded, by source (mlopsadmin or external), action and outcome.",
        labels=["source", "action", "outcome"],
    )
    moves = AliasEvent.objects.values("source", "action", "outcome").annotate(n=Count("id")).order_by()
    for move in moves:
        aliases.add_metric([move["source"], move["action"], move["outcome"]], move["n"])
    yield aliases


def audit_metrics() -> Iterator[Any]:
    """Chain status from a verification at most METRICS_AUDIT_VERIFY_SECONDS old (a full walk is linear in
    the number of events, so scrapes share the result through the cache)."""
    from mlopsadmin.audit.services import audit_verify_chain

    last_id = AuditEvent.objects.aggregate(m=Max("id"))["m"] or 0
    state = cache.get(AUDIT_CHAIN_CACHE_KEY)
    max_age = float(getattr(settings, "METRICS_AUDIT_VERIFY_SECONDS", 300))
    if state is None or state["at"] < timezone.now().timestamp() - max_age:
        report = audit_verify_chain()
        state = {"ok": report.ok, "checked": report.checked, "at": timezone.now().timestamp()}
        cache.set(AUDIT_CHAIN_CACHE_KEY, state, None)
    yield GaugeMetricFamily(
        "mlopsadmin_audit_chain_ok", "1 when the audit hash chain verified intact.", value=state["ok"]
    )
    yield GaugeMetricFamily(
        "mlopsadmin_audit_chain_verified_timestamp_seconds", "When the chain was last verified.", value=state["at"]
    )
    yield CounterMetricFamily("mlopsadmin_audit_events", "Audit events written (the last event id).", value=last_id)


def catalog_metrics() -> Iterator[Any]:
    family = GaugeMetricFamily(
        "mlopsadmin_catalog_experiments",
        "Active experiments in the catalog index by owning team and compliance (naming and required tags).",
        labels=["team", "compliant"],
    )
    rows = (
        CatalogExperiment.objects.filter(lifecycle_stage="active")
        .values("team_key")
        .annotate(ok=Count("id", filter=Q(name_compliant=True, tags_compliant=True)), total=Count("id"))
        .order_by()
    )
    for row in rows:
        family.add_metric([row["team_key"], "true"], row["ok"])
        family.add_metric([row["team_key"], "false"], row["total"] - row["ok"])
    yield family
