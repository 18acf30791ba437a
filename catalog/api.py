"""GET /api/v1/experiments: the catalog's filtered view as JSON (same filters as the page)."""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from catalog import selectors
from mlopsadmin import policy
from mlopsadmin.api.schemas import QueuedOut
from mlopsadmin.core.errors import Conflict

router = Router(tags=["catalog"])


class ExperimentFilters(Schema):
    team: str = Field("", max_length=200, description="Team key; '-' for experiments with no team")
    project: str = Field("", max_length=200)
    kind: Literal["", "flat", "leading_slash", "unknown_prefix", "segments", "characters", "reserved"] = Field(
        "", description="Naming violation kind"
    )
    missing: str = Field("", max_length=200, description="Required tag that some runs lack")
    status: Literal["", "violations", "compliant", "tag_gaps"] = ""
    q: str = Field("", max_length=200, description="Text search in name / id")
    sort: Literal["group", "name", "-name", "runs", "-runs", "activity", "-activity"] = "group"
    deleted: bool = Field(False, description="Include deleted experiments")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=10_000_000)


class ViolationOut(Schema):
    kind: str
    message: str


class ExperimentOut(Schema):
    id: str
    name: str
    lifecycle_stage: str
    team: str | None
    project: str
    experiment_type: str
    violations: list[ViolationOut]
    suggested_name: str | None
    run_count: int
    missing_tag_counts: dict[str, int]
    last_activity: str | None


class ExperimentPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ExperimentOut]


@router.get(
    "/experiments",
    response=ExperimentPage,
    summary="Experiments in the catalog with naming and tag compliance (filters as on the catalog page)",
)
def experiments(request: HttpRequest, filters: Query[ExperimentFilters]) -> ExperimentPage:
    policy.require(request.user, policy.Action.VIEW)
    parsed = selectors.CatalogFilters.from_params(filters.dict())
    qs = selectors.catalog_experiments(parsed)
    count = qs.count()
    rows = qs[filters.offset : filters.offset + filters.limit]
    items = [
        ExperimentOut(
            id=e.experiment_id,
            name=e.name,
            lifecycle_stage=e.lifecycle_stage,
            team=e.team_key or None,
            project=e.project,
            experiment_type=e.experiment_type,
            violations=[
                ViolationOut(kind=str(v.get("kind", "")), message=str(v.get("message", ""))) for v in e.violations or []
            ],
            suggested_name=e.suggested_name or None,
            run_count=e.run_count,
            missing_tag_counts={str(k): int(v) for k, v in (e.missing_tag_counts or {}).items()},
            last_activity=e.last_activity.isoformat() if e.last_activity else None,
        )
        for e in rows
    ]
    return ExperimentPage(count=count, limit=filters.limit, offset=filters.offset, items=items)


class SyncIn(Schema):
    full: bool = Field(False, description="Rescan every experiment's runs (default: only what changed).")


@router.post("/catalog/sync", response={202: QueuedOut}, summary="Queue a catalog sync (operators, admins)")
def catalog_sync_queue(request: HttpRequest, payload: SyncIn) -> tuple[int, dict[str, object]]:
    from catalog.sync import catalog_sync_start

    policy.require(request.user, policy.Action.CATALOG_SYNC)
    full = payload.full
    try:
        catalog_sync_start(actor=request.user, full=full)
    except Conflict as exc:  # one is already queued or running: the sync the caller asked for is under way
        return 202, {"queued": False, "detail": str(exc)}
    return 202, {"queued": True, "detail": f"{'Full' if full else 'Incremental'} sync queued for a worker."}
