"""Approval workflow API: list, read, request, withdraw, approve, reject. Same services and rules as the
pages: 403 policy, 404 unknown, 409 already decided / already pending, 422 four-eyes or another rule."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema

from mlopsadmin.core.errors import NotFound
from registry_ui import validation
from registry_ui.api import Error
from registry_ui.approvals import selectors, services
from registry_ui.models import ApprovalRequest, ApprovalState

router = Router(tags=["registry"])


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
    model_name: str = Field(..., min_length=1, max_length=validation.MAX_MODEL_NAME_LENGTH)
    version: str = Field(..., pattern=validation.VERSION_PATTERN)
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
