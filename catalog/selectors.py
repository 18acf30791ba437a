"""Reads of the catalog: the convention, filtered views of the local index, summaries (the live drill-down of
one experiment's offending runs is catalog/drilldown.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from django.core.cache import cache
from django.db.models import Q, QuerySet

from catalog import naming
from catalog.models import CatalogExperiment, CatalogIndexState, NamingConvention
from maintenance.models import TaskKind, TaskRun, TaskState
from mlopsadmin.core.models import Team
from mlopsadmin.core.selectors import team_for_experiment, team_for_tag
from mlopsadmin.core.sorting import Column
from mlopsadmin.lib import mlflow_client as mlf

T = TypeVar("T")

SORTS = {
    "group": ["team_key", "project", "name"],
    "name": ["name"],
    "-name": ["-name"],
    "runs": ["run_count", "name"],
    "-runs": ["-run_count", "name"],
    "activity": ["last_activity", "name"],
    "-activity": ["-last_activity", "name"],
}
# The catalog table's sortable headers (mlopsadmin.core.sorting); default "group": team → project → name.
SORT_COLUMNS = [
    Column("name", "Experiment", "name", "-name"),
    Column("team", "Team", "group"),
    Column("runs", "Runs", "runs", "-runs", first="desc"),
    Column("activity", "Last activity", "activity", "-activity", first="desc"),
]
STATUSES = {
    "": "Any",
    "violations": "Naming violations",
    "compliant": "Compliant name",
    "tag_gaps": "Runs missing tags",
}


def convention_get() -> NamingConvention:
    row, _ = NamingConvention.objects.get_or_create(pk=1)
    return row


def convention_for(row: NamingConvention | None = None, teams: list[Team] | None = None) -> naming.Convention:
    row = row or convention_get()
    teams = teams if teams is not None else list(Team.objects.all())
    return naming.Convention(
        prefixes={t.name: t.experiment_prefix for t in teams},
        segment_pattern=row.segment_pattern or naming.DEFAULT_SEGMENT_PATTERN,
        reserved_words=tuple(str(w).lower() for w in row.reserved_words or []),
    )


SYNC_WAITING = "Sync requested; waiting for a worker…"


@dataclass(frozen=True)
class SyncStatus:
    """The catalog sync as the page shows it, read from its TaskRun records (kind catalog_sync).
    state: "idle" (none active, last one succeeded or none yet), "running" (queued or running) or "failed"
    (the last one failed or was interrupted). Times are aware datetimes; counts are experiments / runs."""

    state: str = "idle"
    mode: str = ""
    message: str = ""
    task_run_id: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_success_at: datetime | None = None
    last_success_started_at: datetime | None = None
    last_full_scan_at: datetime | None = None
    total: int = 0
    done: int = 0
    runs_seen: int = 0
    duration_seconds: float | None = None

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else (100 if self.state != "running" else 0)


def sync_status() -> SyncStatus:
    """The latest catalog sync, the last successful one and the last successful full scan (3 queries)."""
    runs = TaskRun.objects.filter(kind=TaskKind.CATALOG_SYNC)
    latest = runs.order_by("-created_at", "-id").first()
    if latest is None:
        return SyncStatus()
    succeeded = runs.filter(state=TaskState.SUCCEEDED).order_by("-finished_at", "-id")
    success = succeeded.first()
    full = succeeded.filter(report__mode="full").first()
    report = latest.report or {}
    state = {TaskState.QUEUED: "running", TaskState.RUNNING: "running", TaskState.SUCCEEDED: "idle"}.get(
        TaskState(latest.state), "failed"
    )
    message = report.get("message", "")
    if latest.state == TaskState.QUEUED:
        message = SYNC_WAITING
    elif state == "failed" and latest.errors:
        message = str(latest.errors[-1])
    return SyncStatus(
        state=state,
        mode=str(report.get("mode", "")),
        message=message,
        task_run_id=latest.pk,
        started_at=latest.started_at,
        finished_at=latest.finished_at,
        last_success_at=success.finished_at if success else None,
        last_success_started_at=success.started_at if success else None,
        last_full_scan_at=full.started_at if full else None,
        total=latest.progress_total,
        done=latest.progress_done,
        runs_seen=int((latest.counts or {}).get("runs", 0)),
        duration_seconds=(success.report or {}).get("seconds") if success else None,
    )


@dataclass
class CatalogFilters:
    team: str = ""
    project: str = ""
    kind: str = ""
    missing: str = ""
    status: str = ""
    q: str = ""
    sort: str = "group"
    deleted: bool = False
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_params(cls, params: Any) -> CatalogFilters:
        def get(key: str) -> str:
            value = params.get(key) or ""
            return str(value).replace("\x00", "").strip()[:200]

        filters = cls(
            team=get("team"),
            project=get("project"),
            kind=get("kind"),
            missing=get("missing"),
            status=get("status"),
            q=get("q"),
            sort=get("sort") or "group",
            deleted=get("deleted").lower() in {"1", "true", "on", "yes"},
        )
        if filters.sort not in SORTS:
            filters.errors.append(f"Unknown sort '{filters.sort}'.")
            filters.sort = "group"
        if filters.kind and filters.kind not in naming.VIOLATION_KINDS:
            filters.errors.append(f"Unknown violation kind '{filters.kind}'.")
            filters.kind = ""
        if filters.status not in STATUSES:
            filters.errors.append(f"Unknown status '{filters.status}'.")
            filters.status = ""
        return filters

    def as_params(self) -> dict[str, str]:
        params = {
            "team": self.team,
            "project": self.project,
            "kind": self.kind,
            "missing": self.missing,
            "status": self.status,
            "q": self.q,
            "sort": "" if self.sort == "group" else self.sort,
            "deleted": "1" if self.deleted else "",
        }
        return {k: v for k, v in params.items() if v}


def catalog_experiments(filters: CatalogFilters) -> QuerySet[CatalogExperiment]:
    qs = CatalogExperiment.objects.all()
    if not filters.deleted:
        qs = qs.filter(lifecycle_stage="active")
    if filters.team == "-":
        qs = qs.filter(team_key="")
    elif filters.team:
        qs = qs.filter(team_key=filters.team)
    if filters.project:
        qs = qs.filter(project=filters.project)
    if filters.kind:
        qs = qs.filter(violation_kinds__contains=f" {filters.kind} ")
    if filters.missing:
        qs = qs.filter(missing_tags__contains=f" {filters.missing} ")
    if filters.status == "violations":
        qs = qs.filter(name_compliant=False)
    elif filters.status == "compliant":
        qs = qs.filter(name_compliant=True)
    elif filters.status == "tag_gaps":
        qs = qs.filter(tags_compliant=False)
    if filters.q:
        qs = qs.filter(
            Q(name__icontains=filters.q) | Q(experiment_id=filters.q) | Q(suggested_name__icontains=filters.q)
        )
    return qs.order_by(*SORTS[filters.sort])


def experiment_teams(experiments: Iterable[tuple[str, str]], teams: list[Team] | None = None) -> dict[str, Team | None]:
    """{experiment id: owning team} of (experiment id, name) pairs by the one attribution rule
    (`mlopsadmin.core.selectors.team_for_experiment`), with the experiment's own `team` tag, else its runs'
    dominant one, read from the catalog index (an experiment the catalog has not indexed yet is attributed
    by its name only). One query."""
    pairs = list(experiments)
    teams = teams if teams is not None else list(Team.objects.all())
    tags = {
        i: (own if team_for_tag(own, teams) else dominant)
        for i, own, dominant in CatalogExperiment.objects.filter(experiment_id__in=[i for i, _ in pairs]).values_list(
            "experiment_id", "team_tag", "dominant_team_tag"
        )
    }
    return {i: team_for_experiment(name, teams, team_tag=tags.get(i, "")) for i, name in pairs}


def experiment_run_counts(experiment_ids: list[str]) -> dict[str, int]:
    """{experiment id: its active runs at the last catalog scan} of the scanned ones among `experiment_ids`
    (cleanup planning sizes its queries with them)."""
    return dict(
        CatalogExperiment.objects.filter(experiment_id__in=experiment_ids, runs_scanned_at__isnull=False).values_list(
            "experiment_id", "run_count"
        )
    )


def index_version() -> int:
    """The index's version, read from the database (bumped by `catalog.services.index_changed` on every write
    to the index); keys the cached summaries. Kept out of the cache on purpose: a cache that expires or evicts
    the version key (the file cache's default 300 s) must not fall back to summaries of an older index."""
    return CatalogIndexState.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def _cached(name: str, compute: Callable[[], T]) -> T:
    """`compute()`, cached until the index changes (keyed by the index version) or for an hour."""
    key = f"catalog:{name}:{index_version()}"
    value: T | None = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, 3600)
    return value


def filter_choices() -> dict[str, list[str]]:
    return _cached("choices", _filter_choices)


def _filter_choices() -> dict[str, list[str]]:
    active = CatalogExperiment.objects.filter(lifecycle_stage="active")
    teams = sorted(t for t in active.values_list("team_key", flat=True).distinct() if t)
    # projects of well-formed names only: a malformed name's second segment is not a project worth listing
    projects = sorted(p for p in active.filter(name_compliant=True).values_list("project", flat=True).distinct() if p)
    return {"teams": teams, "projects": projects}


@dataclass
class TeamCompliance:
    team: str
    experiments: int = 0
    compliant_names: int = 0
    runs: int = 0
    missing: dict[str, int] = field(default_factory=dict)

    @property
    def naming_percent(self) -> int:
        return round(100 * self.compliant_names / self.experiments) if self.experiments else 100

    def missing_share(self) -> list[tuple[str, int, int]]:
        """(tag, runs missing it, percent of the team's runs)."""
        return [(tag, count, round(100 * count / self.runs) if self.runs else 0) for tag, count in self.missing.items()]


def team_compliance(required_tags: list[str]) -> list[TeamCompliance]:
    return _cached(
        "teams:" + ",".join(required_tags),
        lambda: _team_compliance(required_tags),
    )


def _team_compliance(required_tags: list[str]) -> list[TeamCompliance]:
    """Per team (and '—' for unowned): naming compliance and the share of runs missing each required tag."""
    summary: dict[str, TeamCompliance] = {}
    rows = CatalogExperiment.objects.filter(lifecycle_stage="active").values_list(
        "team_key", "name_compliant", "run_count", "missing_tag_counts"
    )
    for team_key, compliant, runs, missing in rows.iterator(chunk_size=2000):
        entry = summary.setdefault(
            team_key or "—", TeamCompliance(team=team_key or "—", missing=dict.fromkeys(required_tags, 0))
        )
        entry.experiments += 1
        entry.compliant_names += int(compliant)
        entry.runs += runs
        for tag in required_tags:
            entry.missing[tag] += int((missing or {}).get(tag, 0))
    return sorted(summary.values(), key=lambda e: (e.team == "—", e.team))


def naming_compliance_percent() -> tuple[int | None, int, int]:
    """(percent, compliant, total) over active experiments; percent is None when nothing is indexed (0 of 0
    is "not synced", never 100 %)."""
    return _cached("percent", _naming_compliance_percent)


def _naming_compliance_percent() -> tuple[int | None, int, int]:
    active = CatalogExperiment.objects.filter(lifecycle_stage="active")
    total = active.count()
    compliant = active.filter(name_compliant=True).count()
    return (round(100 * compliant / total) if total else None, compliant, total)


def experiment_url(experiment_id: str) -> str:
    return f"{mlf.ui_url().rstrip('/')}/#/experiments/{experiment_id}"


def run_url(experiment_id: str, run_id: str) -> str:
    return f"{experiment_url(experiment_id)}/runs/{run_id}"
