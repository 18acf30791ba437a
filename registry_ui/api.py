"""Registry API: models and versions (read-only, from the registry index) and the index sync. The approval
workflow's API is in `registry_ui/approvals/api.py` (same router tag)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from mlopsadmin import policy
from mlopsadmin.api.schemas import QueuedOut
from mlopsadmin.core.errors import Conflict, InvalidInput, NotFound
from registry_ui import selectors, validation
from registry_ui.approvals import selectors as approval_selectors
from registry_ui.models import ApprovalState

router = Router(tags=["registry"])


class Error(Schema):
    detail: str
    error: str | None = None


class NamingFindingOut(Schema):
    rule: str
    word: str
    reason: str


class ModelOut(Schema):
    name: str
    team: str | None
    latest_version: str | None
    aliases: dict[str, str]
    pending_approvals: int
    last_updated_timestamp: int | None
    naming_findings: list[NamingFindingOut]


class VersionOut(Schema):
    version: str
    run_id: str
    source: str
    status: str
    creation_timestamp: int | None
    aliases: list[str]
    tags: dict[str, str]
    missing_metadata: list[str]
    approval_state: str | None
    approved: bool


@router.get("/registry/models", response=list[ModelOut], summary="All registered models (every page)")
def list_models(request: HttpRequest) -> list[ModelOut]:
    return [
        ModelOut(
            name=row.name,
            team=row.team.name if row.team else None,
            latest_version=row.model.latest_version,
            aliases=row.model.aliases,
            pending_approvals=row.pending,
            last_updated_timestamp=row.model.last_updated_timestamp,
            naming_findings=[NamingFindingOut(rule=f.rule, word=f.word, reason=f.reason) for f in row.findings],
        )
        for row in selectors.registry_overview()
    ]


@router.get(
    "/registry/models/{name}/versions",
    response={200: list[VersionOut], 404: Error},
    summary="All versions of one model, newest first",
)
def list_versions(request: HttpRequest, name: str) -> list[VersionOut]:
    try:
        model, versions, _ = selectors.model_for_page(validation.model_name(name))
    except InvalidInput as exc:
        raise NotFound(str(exc)) from exc
    required = selectors.required_metadata_keys()
    by_version: dict[str, set[str]] = {}
    for alias, number in model.aliases.items():
        by_version.setdefault(number, set()).add(alias)
    out = []
    for v in versions:
        state = approval_selectors.approval_state(model_name=name, version=v.version)
        out.append(
            VersionOut(
                version=v.version,
                run_id=selectors.run_id_of(v),
                source=v.source,
                status=v.status,
                creation_timestamp=v.creation_timestamp,
                aliases=sorted(by_version.get(v.version, set()) | set(v.aliases)),
                tags=v.tags,
                missing_metadata=selectors.missing_metadata(v.tags, required),
                approval_state=state,
                approved=state == ApprovalState.APPROVED,
            )
        )
    return out


class RegistrySyncIn(Schema):
    full: bool = Field(False, description="Re-read every version and source run (default: only what changed).")


@router.post("/registry/sync", response={202: QueuedOut}, summary="Queue a registry index sync (operators, admins)")
def registry_sync_queue(request: HttpRequest, payload: RegistrySyncIn) -> tuple[int, dict[str, object]]:
    from registry_ui.index_sync import registry_sync_start

    policy.require(request.user, policy.Action.MAINTENANCE_RUN)
    try:
        registry_sync_start(actor=request.user, full=payload.full or None)
    except Conflict as exc:  # one is already queued or running: the sync the caller asked for is under way
        return 202, {"queued": False, "detail": str(exc)}
    return 202, {"queued": True, "detail": f"{'Full' if payload.full else 'Registry'} sync queued for a worker."}
