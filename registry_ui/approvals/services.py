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
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from mlopsadmin import policy
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import Conflict, NotFound, RuleViolation
from mlopsadmin.core.selectors import team_for_model
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib.mlflow_bounded import Deadline
from notifications import events as notification_events
from registry_ui import validation
from registry_ui.approvals import selectors
from registry_ui.approvals.imports import approval_tags_take_off
from registry_ui.approvals.unconfirmed import LATE_WATCH_SECONDS, approve_outcome_event
from registry_ui.environments.config import approval_key_parts
from registry_ui.models import ApprovalRequest, ApprovalState
from registry_ui.services import live_version
from registry_ui.tag_writes import NotSent, action_deadline, differing, version_tags_read, version_tags_write

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
    return approval_request_record(
        actor=actor, model_name=model_name, version=version, team_key=team.name if team else "", comment=comment
    )


def approval_request_record(
    *,
    actor: Any,
    model_name: str,
    version: str,
    team_key: str,
    comment: str,
    extra: dict[str, Any] | None = None,
    reason: str = "",
    run_id: str = "",
) -> ApprovalRequest:
    """Record a new pending request (checked by the caller) with its audit event `approval.request`
    (`extra` added to its after, `reason` used when there is no comment; `run_id`: the version's MLflow run,
    kept where the version number alone cannot tell versions apart), then notify the leads.
    Conflict when one is already pending for the version (the one-pending constraint)."""
    try:
        with transaction.atomic():
            fields = {"model_name": model_name, "version": version, "team": team_key, "run_id": run_id}
            req = ApprovalRequest.objects.create(**fields, requester=actor, comment=comment)
            audit_record(
                actor=actor,
                action="approval.request",
                target_kind="model_version",
                target_id=req.target_id,
                team=req.team,
                before=None,
                after={**_snapshot(req), **(extra or {})},
                reason=comment or reason,
            )
    except IntegrityError as exc:
        pending = selectors.approval_pending_for_version(model_name=model_name, version=version)
        who = pending.requester.get_username() if pending else "someone"
        raise Conflict(f"{model_name}/{version} already has a pending approval request (by {who}).") from exc
    notification_events.approval_requested(req, actor=actor)
    return req


def approval_team(model_name: str) -> Any:
    """The owning team of a request's model: of the base model for an environment approval key."""
    parts = approval_key_parts(model_name)
    return team_for_model(parts[1] if parts else model_name)


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
        team = approval_team(req.model_name)
        policy.require(actor, policy.Action.APPROVAL_WITHDRAW, team=team)
        if req.requester_id != actor.pk and not policy.is_admin(actor):
            raise RuleViolation(
                f"Only the requester ({req.requester.get_username()}) or an admin may withdraw request #{req.pk}."
            )
        _refuse_unless_pending(req, "withdrawn")
        before = _snapshot(req)
        now = timezone.now()
        updated = ApprovalRequest.objects.filter(pk=req.pk, state=ApprovalState.PENDING).update(
            state=ApprovalState.WITHDRAWN,
            decided_by=actor,
            decided_at=now,
            decision_comment=comment,
            updated_at=now,
            unconfirmed=None,
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


def _restore_tags(
    model_name: str, version: str, before: dict[str, str], keys: list[str], deadline: Deadline | None = None
) -> dict[str, str] | None:
    """Put `keys` back as they were in `before` (absent: deleted), then read the version's tags back: what
    MLflow shows now, or None when it cannot be read. Within `deadline` (default: a new action deadline)."""
    deadline = deadline or action_deadline()
    back: dict[str, str | None] = {key: before.get(key) for key in keys}
    result = version_tags_write(model_name, version, back, deadline)
    return result.observed if result.error else version_tags_read(model_name, version, deadline)


def _write_approval_tags(
    model_name: str, version: str, tags: dict[str, str], before: dict[str, str], deadline: Deadline
) -> str:
    """Write the approval tags. After a failed or timed-out write MLflow is read back, and what it shows
    decides: every tag there → the approval stands (returns a note saying the answer was lost); otherwise the
    tags that did land are put back and read back again, and ApprovalWriteFailed says what MLflow shows
    (outcome failed or partial), or that the outcome is unknown when MLflow cannot be read (nothing more is
    sent blind; approvals/unconfirmed.py resolves it once MLflow answers). Returns "" when all answered.
    Writes, read-backs and the putting back share `deadline`, so a slow MLflow ends the decision in time."""
    result = version_tags_write(model_name, version, tags, deadline)
    if result.error is None:
        return ""
    if result.observed is not None and not differing(tags, result.observed):
        return f"MLflow's answer was lost ({str(result.error)[:200]}); read back: the approval tags are in MLflow"
    landed = [] if result.observed is None else [k for k in tags if result.observed.get(k) != before.get(k)]
    observed = _restore_tags(model_name, version, before, landed, deadline) if landed else result.observed
    raise _write_failed(model_name, version, result.error, tags, before, observed)


def _write_failed(
    model_name: str,
    version: str,
    exc: mlf.MlflowError,
    tags: dict[str, str],
    before: dict[str, str],
    observed: dict[str, str] | None,
) -> ApprovalWriteFailed:
    """The refusal of an approval whose tags MLflow did not (all) take, saying what MLflow shows."""
    head = f"MLflow failed while writing the approval of {model_name}/{version} ({exc}). The approval was NOT recorded"
    if observed is None:
        outcome, left = "unknown", list(tags)
        tail = (
            "; its outcome is unknown: MLflow could not be read back. The request stays pending and is resolved from "
            "what MLflow shows as soon as it answers; approving again is safe."
        )
    else:
        left = [key for key in tags if observed.get(key) != before.get(key)]
        outcome = "partial" if left else "failed"
        tail = (
            f"; read back: tags {', '.join(left)} are still in MLflow and need a manual check."
            if left
            else "; read back: MLflow shows the version as before. "
            + ("Try again." if exc.retryable else "Retrying will not help until this is fixed in MLflow.")
        )
    lost = isinstance(exc, mlf.MlflowUnavailable | mlf.MlflowServerError) and not isinstance(exc, NotSent)
    if lost and observed is not None:
        tail += (
            " Its answer was lost, so MLflow may still apply it late: mlopsadmin reads MLflow again (approvals "
            "import) and records what it shows, attributed to this approval."
        )
    error = ApprovalWriteFailed(head + tail)
    error.lost = lost  # type: ignore[attr-defined]
    error.status = 503 if exc.retryable or observed is None else 502
    error.outcome = outcome  # type: ignore[attr-defined]
    error.leftover = left  # type: ignore[attr-defined]
    error.mlflow_tags = None if observed is None else {k: observed[k] for k in tags if k in observed}  # type: ignore[attr-defined]
    return error


def _without(tags: dict[str, str], keys: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k not in keys}


def approval_request_decide(*, actor: Any, request_id: int, approve: bool, comment: str = "") -> ApprovalRequest:
    """Approve or reject a pending request. Approving writes approved_by / approval_date into MLflow;
    rejecting takes such tags off (written by hand or imported: imports.approval_tags_take_off), both with the
    old values in the audit event. Refuses: unknown request (404), not pending (409), the requester deciding
    (422, four-eyes, even for admins), a version that no longer exists (404)."""
    comment = validation.text_field(comment, field="Comment", limit=MAX_COMMENT, required=not approve)
    deadline = action_deadline()  # the MLflow writes and read-backs of this decision end within it
    verb = "approved" if approve else "rejected"
    written: list[str] = []
    removed: dict[str, str] = {}  # a rejection: approval tags taken off MLflow (old values)
    pending_write: dict[str, Any] = {"tags": {}, "before": {}}
    target = team_key = ""
    try:
        with transaction.atomic():
            req = _locked_request(request_id)
            target, team_key = req.target_id, req.team
            team = approval_team(req.model_name)
            policy.require(actor, policy.Action.APPROVAL_DECIDE, team=team)
            _refuse_unless_pending(req, verb)
            if req.requester_id == actor.pk:
                raise RuleViolation(
                    f"Four-eyes rule: {actor.get_username()} requested #{req.pk} and cannot "
                    f"decide it (not even as admin). Another ML lead of the team must decide."
                )
            # an environment approval ('<env>:<model>') approves a copy that does not exist yet: no MLflow
            # tag is written now; the copy writes this approval on the new version (environments/approvals.py)
            for_environment = approval_key_parts(req.model_name) is not None
            version_tags = (
                {} if for_environment else live_version(req.model_name, req.version, for_what=f"be {verb}").tags
            )
            before = _snapshot(req)
            before_tags = {k: version_tags[k] for k in selectors.APPROVAL_TAGS if k in version_tags}
            now = timezone.now()
            tags = {"approved_by": actor.get_username(), "approval_date": now.date().isoformat()}
            note = ""
            if approve and not for_environment:
                pending_write = {"tags": tags, "before": before_tags}
                note = _write_approval_tags(req.model_name, req.version, tags, version_tags, deadline)
                written = list(tags)
                others = {k: v for k, v in version_tags.items() if k not in tags}  # 'Approved By' …: one approver
                removed, more = approval_tags_take_off(req.model_name, req.version, others, deadline, end_import=False)
                written += list(removed)
                note = "; ".join(n for n in (note, more) if n)
            elif not approve:  # MLflow must not keep saying "approved" (tags written by hand, imported)
                removed, note = approval_tags_take_off(req.model_name, req.version, version_tags, deadline)
                written = list(removed)
            updated = ApprovalRequest.objects.filter(pk=req.pk, state=ApprovalState.PENDING).update(
                state=ApprovalState.APPROVED if approve else ApprovalState.REJECTED,
                decided_by=actor,
                decided_at=now,
                decision_comment=comment,
                updated_at=now,
                unconfirmed=None,
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
                    "tags": tags if approve and not for_environment else _without(before_tags, removed),
                    "removed": removed,  # a rejection: approval tags taken off MLflow, with their old values
                    # tags recorded before (by hand, or an imported approval) that this approval replaced
                    "overwritten": {k: v for k, v in before_tags.items() if approve and tags.get(k) != v}
                    | (removed if approve else {}),
                },
                reason=comment + (f" | {note}" if comment and note else note),
            )
    except ApprovalWriteFailed as exc:
        _record_write_failed(exc, actor=actor, request_id=request_id, target=target, team_key=team_key, **pending_write)
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
        if written:  # MLflow has the tags but the local record failed: put MLflow back, read back what is left
            target_model, target_version = target.rsplit("/", 1)
            old = {**before_tags, **removed}
            observed = _restore_tags(target_model, target_version, old, written)
            left = written if observed is None else [k for k in written if observed.get(k) != old.get(k)]
            if left:
                after = {"mlflow_tags_left": left}
                reason = "local record failed after MLflow write"
                approve_outcome_event(actor, target, team_key, outcome="partial", reason=reason, after=after)
        raise
    notification_events.approval_decided(req, actor=actor)
    return req


def _record_write_failed(
    exc: ApprovalWriteFailed,
    *,
    actor: Any,
    request_id: int,
    target: str,
    team_key: str,
    tags: dict[str, str],
    before: dict[str, str],
) -> None:
    """The audit event of an approval MLflow did not (all) take, with what MLflow showed when read back. An
    unknown outcome also marks the request, so that approvals/unconfirmed.py resolves it from MLflow later;
    so does a write whose answer was lost even when the read-back did not show it (MLflow may apply it
    late, from its backlog): the marker then carries the outcome already recorded and a watch deadline."""
    outcome = getattr(exc, "outcome", "failed")
    with transaction.atomic():
        if outcome == "unknown" or getattr(exc, "lost", False):
            now = timezone.now()
            marker: dict[str, Any] = {"decider_id": actor.pk, "tags": tags, "before": before, "at": now.isoformat()}
            if outcome != "unknown":
                marker["recorded"] = outcome
                marker["watch_until"] = (now + timedelta(seconds=LATE_WATCH_SECONDS)).isoformat()
            ApprovalRequest.objects.filter(pk=request_id, state=ApprovalState.PENDING).update(unconfirmed=marker)
        after = {
            "planned_tags": tags,
            "mlflow_tags": getattr(exc, "mlflow_tags", None),
            "mlflow_tags_left": getattr(exc, "leftover", []),
        }
        approve_outcome_event(actor, target, team_key, outcome=outcome, reason=str(exc), after=after)


def approval_request_approve(*, actor: Any, request_id: int, comment: str = "") -> ApprovalRequest:
    return approval_request_decide(actor=actor, request_id=request_id, approve=True, comment=comment)


def approval_request_reject(*, actor: Any, request_id: int, comment: str = "") -> ApprovalRequest:
    return approval_request_decide(actor=actor, request_id=request_id, approve=False, comment=comment)
