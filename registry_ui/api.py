"""Registry API: models, versions and the approval workflow. Same services and rules as the pages:
403 policy, 404 unknown, 409 already decided / already pending, 422 four-eyes or another rule."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema

from mlopsadmin.core.errors import NotFound
from mlopsadmin.core.selectors import all_teams, model_ownership_map, team_for_model
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import selectors, services
from registry_ui.models import ApprovalRequest, ApprovalState

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


class ApprovalOut(Schema):
    id: int
    model_name: str
    version: str
    team: str
    requester: str
    comment: str
    state: str
    decided_by: str | None
    decision_comment: str
    created_at: datetime
    decided_at: datetime | None


class ApprovalCreateIn(Schema):
    model_name: str = Field(..., min_length=1, max_length=256)
    version: str = Field(..., min_length=1, max_length=12, pattern=r"^[0-9]+$")
    comment: str = Field("", max_length=4000)


class CommentIn(Schema):
    comment: str = Field("", max_length=4000)


def _approval_out(req: ApprovalRequest) -> ApprovalOut:
    return ApprovalOut(
        id=req.pk,
        model_name=req.model_name,
        version=req.version,
        team=req.team,
        requester=req.requester.get_username(),
        comment=req.comment,
        state=req.state,
        decided_by=req.decided_by.get_username() if req.decided_by_id else None,  # type: ignore[union-attr]
        decision_comment=req.decision_comment,
        created_at=req.created_at,
        decided_at=req.decided_at,
    )


@router.get("/registry/models", response=list[ModelOut], summary="All registered models (every page)")
def list_models(request: HttpRequest) -> list[ModelOut]:
    teams, ownership = all_teams(), model_ownership_map()
    pending = selectors.pending_counts_by_model()
    words = selectors.naming_words()
    out = []
    for model in mlf.iter_registered_models():
        team = team_for_model(model.name, teams, ownership)
        out.append(
            ModelOut(
                name=model.name,
                team=team.name if team else None,
                latest_version=model.latest_version,
                aliases=model.aliases,
                pending_approvals=pending.get(model.name, 0),
                last_updated_timestamp=model.last_updated_timestamp,
                naming_findings=[
                    NamingFindingOut(rule=f.rule, word=f.word, reason=f.reason)
                    for f in selectors.model_name_findings(model.name, words)
                ],
            )
        )
    return sorted(out, key=lambda m: m.name.lower())


@router.get(
    "/registry/models/{name}/versions",
    response={200: list[VersionOut], 404: Error},
    summary="All versions of one model, newest first",
)
def list_versions(request: HttpRequest, name: str) -> list[VersionOut]:
    if "/" in name or ":" in name or "\x00" in name or not name.strip():
        raise NotFound(f"No registered model named {name!r}.")
    try:
        model = mlf.get_registered_model(name)
    except (mlf.MlflowNotFound, mlf.MlflowInvalid) as exc:
        raise NotFound(f"No registered model named {name!r}.") from exc
    required = selectors.required_metadata_keys()
    by_version: dict[str, set[str]] = {}
    for alias, number in model.aliases.items():
        by_version.setdefault(number, set()).add(alias)
    out = []
    for v in selectors.model_versions(name):
        state = selectors.approval_state(model_name=name, version=v.version)
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


@router.get("/registry/approvals", response=list[ApprovalOut], summary="Approval requests, newest first")
def list_approvals(
    request: HttpRequest, state: ApprovalState | None = None, model_name: str | None = None
) -> list[ApprovalOut]:
    model_name = (model_name or "").replace("\x00", "")[:256] or None
    return [_approval_out(r) for r in selectors.approvals_list(state=state, model_name=model_name)]


@router.get(
    "/registry/approvals/{int:request_id}", response={200: ApprovalOut, 404: Error}, summary="One approval request"
)
def get_approval(request: HttpRequest, request_id: int) -> ApprovalOut:
    req = selectors.approval_get(request_id=request_id)
    if req is None:
        raise NotFound(f"No approval request #{request_id}.")
    return _approval_out(req)


_WRITE_RESPONSES = {400: Error, 403: Error, 404: Error, 409: Error, 422: Error, 502: Error, 503: Error}


@router.post(
    "/registry/approvals",
    response={201: ApprovalOut, **_WRITE_RESPONSES},
    summary="Request approval of a model version (a member of the owning team with edit rights)",
)
def create_approval(request: HttpRequest, payload: ApprovalCreateIn) -> tuple[int, ApprovalOut]:
    req = services.approval_request_create(
        actor=request.user, model_name=payload.model_name, version=payload.version, comment=payload.comment
    )
    return 201, _approval_out(req)


@router.post(
    "/registry/approvals/{int:request_id}/withdraw",
    response={200: ApprovalOut, **_WRITE_RESPONSES},
    summary="Withdraw a pending request (the requester, or an admin)",
)
def withdraw_approval(request: HttpRequest, request_id: int, payload: CommentIn) -> ApprovalOut:
    return _approval_out(
        services.approval_request_withdraw(actor=request.user, request_id=request_id, comment=payload.comment)
    )


@router.post(
    "/registry/approvals/{int:request_id}/approve",
    response={200: ApprovalOut, **_WRITE_RESPONSES},
    summary="Approve (an ML lead of the owning team; never the requester). Writes approved_by/approval_date",
)
def approve_approval(request: HttpRequest, request_id: int, payload: CommentIn) -> ApprovalOut:
    return _approval_out(
        services.approval_request_approve(actor=request.user, request_id=request_id, comment=payload.comment)
    )


@router.post(
    "/registry/approvals/{int:request_id}/reject",
    response={200: ApprovalOut, **_WRITE_RESPONSES},
    summary="Reject with a comment (an ML lead of the owning team; never the requester)",
)
def reject_approval(request: HttpRequest, request_id: int, payload: CommentIn) -> ApprovalOut:
    return _approval_out(
        services.approval_request_reject(actor=request.user, request_id=request_id, comment=payload.comment)
    )
