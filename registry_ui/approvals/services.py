"""Writes of the approval workflow. The state machine lives here (not in views):

    pending ──approve──▶ approved      (ML lead of the owning team or admin; never the requester)
       │    ──reject───▶ rejected      (same; a comment is required)
       └────withdraw──▶ withdrawn     (the requester, or an admin)

Order of writes for a decision: lock the request row, check the rules, write MLflow (approve:
`approved_by` + `approval_date` version tags), then record locally (conditional update + one audit event)
in the same transaction. If MLflow fails nothing is recorded locally, the tags already written are put
back, and one audit event with outcome "failed" (or "partial" when MLflow could not be put back) says so.
Every function checks the actor's permission through `mlopsadmin.policy` itself.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from mlopsadmin import policy
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import Conflict, NotFound, RuleViolation
from mlopsadmin.core.selectors import team_for_model
from mlopsadmin.lib import mlflow_client as mlf
from notifications import events as notification_events
from registry_ui import validation
from registry_ui.approvals import selectors
from registry_ui.models import ApprovalRequest, ApprovalState
from registry_ui.services import live_version

logger = logging.getLogger(__name__)

MAX_COMMENT = 4000


class ApprovalWriteFailed(RuleViolation):
    """MLflow refused or failed while writing the approval tags (status set from the cause)."""


def _snapshot(req: ApprovalRequest) -> dict[str, Any]:
    return {
        "request_id": req.pk,
        "state": req.state,
        "requester": req.requester.get_username(),
        "comment": req.comment,
        "decided_by": req.decided_by.get_username() if req.decided_by_id else None,  # type: ignore[union-attr]
        "decision_comment": req.decision_comment,
    }


# --- Approval requests ------------------------------------------------------------------------------
def approval_request_create(*, actor: Any, model_name: str, version: str | int, comment: str = "") -> ApprovalRequest:
    model_name = validation.model_name(model_name)
    version = validation.model_version(version)
    comment = validation.text_field(comment, field="Comment", limit=MAX_COMMENT)
    team = team_for_model(model_name)
    policy.require(actor, policy.Action.APPROVAL_REQUEST, team=team)
    live_version(model_name, version, for_what="request approval")
    if selectors.version_is_approved(model_name=model_name, version=version):
        latest = selectors.approval_latest(model_name=model_name, version=version)
        who = latest.decided_by.get_username() if latest and latest.decided_by_id else "someone"  # type: ignore[union-attr]
        raise Conflict(f"{model_name}/{version} is already approved (by {who}); no new request is needed.")
    try:
        with transaction.atomic():
            req = ApprovalRequest.objects.create(
                model_name=model_name, version=version, team=team.name if team else "", requester=actor, comment=comment
            )
            audit_record(
                actor=actor,
                action="approval.request",
                target_kind="model_version",
                target_id=req.target_id,
                team=req.team,
                before=None,
                after=_snapshot(req),
                reason=comment,
            )
    except IntegrityError as exc:
        pending = selectors.approval_pending_for_version(model_name=model_name, version=version)
        who = pending.requester.get_username() if pending else "someone"
        raise Conflict(f"{model_name}/{version} already has a pending approval request (by {who}).") from exc
    notification_events.approval_requested(req, actor=actor)
    return req


def _locked_request(request_id: int) -> ApprovalRequest:
    req = (
        ApprovalRequest.objects.select_for_update(of=("self",))
        # Not decided_by: after waiting for the row lock PostgreSQL re-reads the locked row but not the
        # joined user row, so a decider set meanwhile came back as None (500). It is loaded when needed.
        .select_related("requester")
        .filter(pk=request_id)
        .first()
    )
    if req is None:
        raise NotFound(f"No approval request #{request_id}.")
    return req


def _refuse_unless_pending(req: ApprovalRequest, verb: str) -> None:
    if req.state == ApprovalState.PENDING:
        return
    by = f" by {req.decided_by.get_username()}" if req.decided_by_id else ""  # type: ignore[union-attr]
    when = f" on {req.decided_at:%Y-%m-%d %H:%M} UTC" if req.decided_at else ""
    raise Conflict(
        f"Request #{req.pk} for {req.target_id} was already {req.state}{by}{when}: it cannot be "
        f"{verb}. Nothing was changed."
    )


def approval_request_withdraw(*, actor: Any, request_id: int, comment: str = "") -> ApprovalRequest:
    comment = validation.text_field(comment, field="Comment", limit=MAX_COMMENT)
    with transaction.atomic():
        req = _locked_request(request_id)
        team = team_for_model(req.model_name)
        policy.require(actor, policy.Action.APPROVAL_WITHDRAW, team=team)
        if req.requester_id != actor.pk and not policy.is_admin(actor):
            raise RuleViolation(
                f"Only the requester ({req.requester.get_username()}) or an admin may withdraw request #{req.pk}."
            )
        _refuse_unless_pending(req, "withdrawn")
        before = _snapshot(req)
        now = timezone.now()
        updated = ApprovalRequest.objects.filter(pk=req.pk, state=ApprovalState.PENDING).update(
            state=ApprovalState.WITHDRAWN, decided_by=actor, decided_at=now, decision_comment=comment, updated_at=now
        )
        if updated != 1:
            raise Conflict(f"Request #{req.pk} changed meanwhile; nothing was changed.")
        req.refresh_from_db()
        audit_record(
            actor=actor,
            action="approval.withdraw",
            target_kind="model_version",
            target_id=req.target_id,
            team=req.team,
            before=before,
            after=_snapshot(req),
            reason=comment,
        )
        notification_events.approval_withdrawn(req, actor=actor)
    return req


def _tags_read_back(model_name: str, version: str) -> dict[str, str] | None:
    """The version's tags as MLflow shows them now; None when MLflow cannot be read."""
    try:
        return dict(mlf.get_model_version(model_name, version).tags)
    except mlf.MlflowError as exc:
        logger.warning("read-back of the tags of %s/%s failed: %s", model_name, version, exc)
        return None


def _restore_tags(model_name: str, version: str, before: dict[str, str], written: list[str]) -> list[str]:
    """Put tags written by a failed approval back as they were, then read MLflow back (a restore whose
    answer was lost may be applied, one that answered may not be): returns the keys MLflow does not show
    as before (all of `written` when it cannot be read back)."""
    for key in written:
        try:
            if key in before:
                mlf.set_model_version_tag(model_name, version, key, before[key])
            else:
                mlf.delete_model_version_tag(model_name, version, key)
        except mlf.MlflowNotFound:
            pass  # deleting a tag MLflow does not have: as before
        except mlf.MlflowError as exc:
            logger.error("could not restore tag %s on %s/%s: %s", key, model_name, version, exc)
    shown = _tags_read_back(model_name, version)
    return list(written) if shown is None else [key for key in written if shown.get(key) != before.get(key)]


def _write_approval_tags(model_name: str, version: str, tags: dict[str, str], before: dict[str, str]) -> list[str]:
    """Write the tags in order; on failure restore what was written and raise ApprovalWriteFailed. A write
    that failed or timed out may still be applied by MLflow (its answer was lost), so the failing key is put
    back too (read-back decides what is left): a stale approval tag would otherwise be imported later as an
    approval made outside mlopsadmin."""
    written: list[str] = []
    attempted: list[str] = []
    try:
        for key, value in tags.items():
            attempted.append(key)
            mlf.set_model_version_tag(model_name, version, key, value)
            written.append(key)
    except mlf.MlflowError as exc:
        left = _restore_tags(model_name, version, before, attempted)
        error = ApprovalWriteFailed(
            f"MLflow failed while writing the approval of {model_name}/{version} ({exc}). The approval was NOT "
            "recorded"
            + (
                f"; tags {', '.join(left)} may remain in MLflow and need a manual check."
                if left
                else "; read back, MLflow shows the version as before. "
                + ("Try again." if exc.retryable else "Retrying will not help until this is fixed in MLflow.")
            )
        )
        error.status = 503 if exc.retryable else 502
        error.leftover = left  # type: ignore[attr-defined]
        raise error from exc
    return written


def approval_request_decide(*, actor: Any, request_id: int, approve: bool, comment: str = "") -> ApprovalRequest:
    """Approve or reject a pending request. Refuses: unknown request (404), not pending (409), the
    requester deciding (422, four-eyes, even for admins), a version that no longer exists (404)."""
    comment = validation.text_field(comment, field="Comment", limit=MAX_COMMENT, required=not approve)
    verb = "approved" if approve else "rejected"
    written: list[str] = []
    target = team_key = ""
    try:
        with transaction.atomic():
            req = _locked_request(request_id)
            target, team_key = req.target_id, req.team
            team = team_for_model(req.model_name)
            policy.require(actor, policy.Action.APPROVAL_DECIDE, team=team)
            _refuse_unless_pending(req, verb)
            if req.requester_id == actor.pk:
                raise RuleViolation(
                    f"Four-eyes rule: {actor.get_username()} requested #{req.pk} and cannot "
                    f"decide it (not even as admin). Another ML lead of the team must decide."
                )
            version = live_version(req.model_name, req.version, for_what=f"be {verb}")
            before = _snapshot(req)
            before_tags = {k: version.tags[k] for k in selectors.APPROVAL_TAGS if k in version.tags}
            now = timezone.now()
            tags = {"approved_by": actor.get_username(), "approval_date": now.date().isoformat()}
            if approve:
                written = _write_approval_tags(req.model_name, req.version, tags, version.tags)
            updated = ApprovalRequest.objects.filter(pk=req.pk, state=ApprovalState.PENDING).update(
                state=ApprovalState.APPROVED if approve else ApprovalState.REJECTED,
                decided_by=actor,
                decided_at=now,
                decision_comment=comment,
                updated_at=now,
            )
            if updated != 1:  # decided meanwhile (SQLite has no row locks): undo our MLflow write
                raise Conflict(f"Request #{req.pk} was decided by someone else meanwhile; nothing was changed.")
            req.refresh_from_db()
            audit_record(
                actor=actor,
                action=f"approval.{'approve' if approve else 'reject'}",
                target_kind="model_version",
                target_id=req.target_id,
                team=req.team,
                before={**before, "tags": before_tags},
                after={
                    **_snapshot(req),
                    "tags": tags if approve else before_tags,
                    # tags recorded before (by hand, or an imported approval) that this approval replaced
                    "overwritten": {k: v for k, v in before_tags.items() if approve and tags.get(k) != v},
                },
                reason=comment,
            )
    except ApprovalWriteFailed as exc:
        left = getattr(exc, "leftover", [])
        audit_record(
            actor=actor,
            action=f"approval.{'approve' if approve else 'reject'}",
            target_kind="model_version",
            target_id=target,
            team=team_key,
            reason=str(exc),
            outcome="partial" if left else "failed",
            after={"mlflow_tags_left": left},
        )
        raise
    except mlf.MlflowError as exc:  # MLflow failed before anything was written: nothing recorded locally
        audit_record(
            actor=actor,
            action=f"approval.{'approve' if approve else 'reject'}",
            target_kind="model_version",
            target_id=target,
            team=team_key,
            outcome="failed",
            reason=f"MLflow failed, nothing was changed: {exc}",
        )
        raise
    except BaseException:
        if written:  # MLflow has the tags but the local record failed: put MLflow back
            target_model, target_version = target.rsplit("/", 1)
            left = _restore_tags(target_model, target_version, before=before_tags, written=written)
            if left:
                audit_record(
                    actor=actor,
                    action="approval.approve",
                    target_kind="model_version",
                    target_id=target,
                    team=team_key,
                    outcome="partial",
                    reason="local record failed after MLflow write",
                    after={"mlflow_tags_left": left},
                )
        raise
    notification_events.approval_decided(req, actor=actor)
    return req


def approval_request_approve(*, actor: Any, request_id: int, comment: str = "") -> ApprovalRequest:
    return approval_request_decide(actor=actor, request_id=request_id, approve=True, comment=comment)


def approval_request_reject(*, actor: Any, request_id: int, comment: str = "") -> ApprovalRequest:
    return approval_request_decide(actor=actor, request_id=request_id, approve=False, comment=comment)
