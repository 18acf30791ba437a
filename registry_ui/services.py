"""Writes of the registry feature. The approval state machine lives here (not in views):

    pending ──approve──▶ approved      (ML lead of the owning team or admin; never the requester)
       │    ──reject───▶ rejected      (same; a comment is required)
       └────withdraw──▶ withdrawn     (the requester, or an admin)

Order of writes for a decision: lock the request row, check the rules, write MLflow (approve:
`approved_by` + `approval_date` version tags), then record locally (conditional update + one audit event)
in the same transaction. If MLflow fails nothing is recorded locally, the tags already written are put
back, and one audit event with outcome "failed" (or "partial" when MLflow could not be put back) says so.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from mlopsadmin import policy
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from mlopsadmin.core.models import Team
from mlopsadmin.core.notify import notification_send
from mlopsadmin.core.selectors import team_for_model
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import selectors
from registry_ui.models import ApprovalRequest, ApprovalState, NamingWord, NamingWordKind, RequiredMetadataKey

logger = logging.getLogger(__name__)

TAG_KEY_RE = re.compile(r"^[/\w.\- :]{1,250}$")  # MLflow's rule for tag names
MAX_TAG_VALUE = 5000
MAX_COMMENT = 4000
WORKFLOW_TAGS = set(selectors.APPROVAL_TAGS)  # written only by an approval


class ApprovalWriteFailed(RuleViolation):
    """MLflow refused or failed while writing the approval tags (status set from the cause)."""


def _text(value: Any, *, field: str, limit: int, required: bool = False) -> str:
    text = "" if value is None else str(value)
    if "\x00" in text:
        raise InvalidInput(f"{field} contains a NUL character.")
    text = text.strip()
    if len(text) > limit:
        raise InvalidInput(f"{field} is too long ({len(text)} characters, at most {limit}).")
    if required and not text:
        raise InvalidInput(f"{field} is required.")
    return text


def _version_number(version: Any) -> str:
    text = str(version or "").strip()
    if not text.isdigit() or len(text) > 12:
        raise InvalidInput(f"Version {text[:40]!r} is not a version number.")
    return str(int(text))


def _model_name(name: Any) -> str:
    return _text(name, field="Model name", limit=256, required=True)


def live_version(model_name: str, version: str, *, for_what: str) -> mlf.ModelVersion:
    """The version from MLflow, or a clear refusal when it is unknown, deleted or failed to register."""
    try:
        found = mlf.get_model_version(model_name, version)
    except mlf.MlflowNotFound as exc:
        raise NotFound(
            f"Model version {model_name}/{version} does not exist in MLflow (unknown or deleted): cannot {for_what}."
        ) from exc
    except mlf.MlflowInvalid as exc:
        raise InvalidInput(f"MLflow refused {model_name}/{version}: {exc}") from exc
    if found.status and found.status not in ("READY", "ModelVersionStatus.READY"):
        raise RuleViolation(f"Model version {model_name}/{version} is {found.status}, not READY: cannot {for_what}.")
    return found


def _snapshot(req: ApprovalRequest) -> dict[str, Any]:
    return {
        "request_id": req.pk,
        "state": req.state,
        "requester": req.requester.get_username(),
        "comment": req.comment,
        "decided_by": req.decided_by.get_username() if req.decided_by_id else None,  # type: ignore[union-attr]
        "decision_comment": req.decision_comment,
    }


def _notify(*, team: Team | None, subject: str, text: str) -> None:
    """Queue a notification to the team's ML leads after commit; a failing channel never blocks."""
    recipients = selectors.team_lead_emails(team)

    def send() -> None:
        try:
            notification_send(subject=subject, text=text, recipients=recipients)
        except Exception as exc:  # the broker may be down: log, never fail the approval
            logger.warning("approval notification %r not queued: %s", subject, exc)

    transaction.on_commit(send, robust=True)


# --- Approval requests ------------------------------------------------------------------------------
def approval_request_create(*, actor: Any, model_name: str, version: str | int, comment: str = "") -> ApprovalRequest:
    model_name = _model_name(model_name)
    version = _version_number(version)
    comment = _text(comment, field="Comment", limit=MAX_COMMENT)
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
    _notify(
        team=team,
        subject=f"Approval requested: {req.target_id}",
        text=f"{actor.get_username()} asks for approval of {req.target_id}."
        + (f"\nComment: {comment}" if comment else ""),
    )
    return req


def _locked_request(request_id: int) -> ApprovalRequest:
    req = (
        ApprovalRequest.objects.select_for_update(of=("self",))
        .select_related("requester", "decided_by")
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
    comment = _text(comment, field="Comment", limit=MAX_COMMENT)
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
    return req


def _restore_tags(model_name: str, version: str, before: dict[str, str], written: list[str]) -> list[str]:
    """Put tags written by a failed approval back as they were; returns the keys that could not be."""
    left = []
    for key in written:
        try:
            if key in before:
                mlf.set_model_version_tag(model_name, version, key, before[key])
            else:
                mlf.delete_model_version_tag(model_name, version, key)
        except mlf.MlflowError as exc:
            logger.error("could not restore tag %s on %s/%s: %s", key, model_name, version, exc)
            left.append(key)
    return left


def _write_approval_tags(model_name: str, version: str, tags: dict[str, str], before: dict[str, str]) -> list[str]:
    """Write the tags in order; on failure restore what was written and raise ApprovalWriteFailed."""
    written: list[str] = []
    try:
        for key, value in tags.items():
            mlf.set_model_version_tag(model_name, version, key, value)
            written.append(key)
    except mlf.MlflowError as exc:
        left = _restore_tags(model_name, version, before, written)
        error = ApprovalWriteFailed(
            f"MLflow failed while writing the approval of {model_name}/{version} ({exc}). The approval was NOT "
            "recorded"
            + (
                f"; tags {', '.join(left)} may remain in MLflow and need a manual check."
                if left
                else "; MLflow was left as before. Try again."
            )
        )
        error.status = 503 if exc.retryable else 502
        error.leftover = left  # type: ignore[attr-defined]
        raise error from exc
    return written


def approval_request_decide(*, actor: Any, request_id: int, approve: bool, comment: str = "") -> ApprovalRequest:
    """Approve or reject a pending request. Refuses: unknown request (404), not pending (409), the
    requester deciding (422, four-eyes, even for admins), a version that no longer exists (404)."""
    comment = _text(comment, field="Comment", limit=MAX_COMMENT, required=not approve)
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
                after={**_snapshot(req), "tags": tags if approve else before_tags},
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
            left = _restore_tags(*target.rsplit("/", 1), before=before_tags, written=written)
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
    subject = f"Approval {verb}: {req.target_id}"
    _notify(
        team=team,
        subject=subject,
        text=f"{actor.get_username()} {verb} {req.target_id} "
        f"(requested by {req.requester.get_username()})." + (f"\nComment: {comment}" if comment else ""),
    )
    return req


def approval_request_approve(*, actor: Any, request_id: int, comment: str = "") -> ApprovalRequest:
    return approval_request_decide(actor=actor, request_id=request_id, approve=True, comment=comment)


def approval_request_reject(*, actor: Any, request_id: int, comment: str = "") -> ApprovalRequest:
    return approval_request_decide(actor=actor, request_id=request_id, approve=False, comment=comment)


# --- Version tags -------------------------------------------------------------------------------------
def version_tag_set(*, actor: Any, model_name: str, version: str | int, key: str, value: str) -> str | None:
    """Set (or, with an empty value, delete) one version tag in MLflow; audited with before/after.
    Returns the new value (None when deleted)."""
    model_name = _model_name(model_name)
    version = _version_number(version)
    key = _text(key, field="Tag name", limit=250, required=True)
    value = _text(value, field="Tag value", limit=MAX_TAG_VALUE)
    if not TAG_KEY_RE.match(key):
        raise InvalidInput(f"Tag name {key!r} may only contain letters, digits, '_', '-', '.', ' ', ':' and '/'.")
    if key in WORKFLOW_TAGS:
        raise RuleViolation(f"'{key}' is written only by the approval workflow (request and approve the version).")
    team = team_for_model(model_name)
    policy.require(actor, policy.Action.MODEL_EDIT_TAGS, team=team)
    current = live_version(model_name, version, for_what="edit its tags")
    before = current.tags.get(key)
    if before == (value or None):
        return before
    target = f"{model_name}/{version}"
    try:
        if value:
            mlf.set_model_version_tag(model_name, version, key, value)
        else:
            mlf.delete_model_version_tag(model_name, version, key)
    except mlf.MlflowError as exc:
        audit_record(
            actor=actor,
            action="model_version.tag_set",
            target_kind="model_version",
            target_id=target,
            team=team.name if team else "",
            before={key: before},
            after={key: value or None},
            outcome="failed",
            reason=str(exc),
        )
        raise
    audit_record(
        actor=actor,
        action="model_version.tag_set",
        target_kind="model_version",
        target_id=target,
        team=team.name if team else "",
        before={key: before},
        after={key: value or None},
    )
    return value or None


# --- Editable data: naming words, required metadata keys ---------------------------------------------
def naming_word_add(*, actor: Any, word: str, kind: str) -> NamingWord:
    policy.require(actor, policy.Action.CONVENTION_EDIT)
    word = _text(word, field="Word", limit=64, required=True).lower()
    if not re.fullmatch(r"[a-z0-9]+", word):
        raise InvalidInput("A naming word is one lowercase token of letters and digits (e.g. 'xgboost').")
    if kind not in NamingWordKind.values:
        raise InvalidInput(f"Kind must be one of {', '.join(NamingWordKind.values)}.")
    with transaction.atomic():
        existing = NamingWord.objects.select_for_update().filter(word=word).first()
        if existing and existing.kind == kind:
            raise Conflict(f"'{word}' is already on the {existing.get_kind_display()} list.")
        before = {"word": word, "kind": existing.kind} if existing else None
        obj, _ = NamingWord.objects.update_or_create(word=word, defaults={"kind": kind})
        audit_record(
            actor=actor,
            action="naming_word.add",
            target_kind="model",
            target_id=f"naming-word:{word}",
            before=before,
            after={"word": word, "kind": kind},
        )
    return obj


def naming_word_remove(*, actor: Any, word_id: int) -> None:
    policy.require(actor, policy.Action.CONVENTION_EDIT)
    with transaction.atomic():
        obj = NamingWord.objects.select_for_update().filter(pk=word_id).first()
        if obj is None:
            raise NotFound("No such naming word.")
        before = {"word": obj.word, "kind": obj.kind}
        obj.delete()
        audit_record(
            actor=actor,
            action="naming_word.remove",
            target_kind="model",
            target_id=f"naming-word:{before['word']}",
            before=before,
            after=None,
        )


def required_key_add(*, actor: Any, key: str, description: str = "") -> RequiredMetadataKey:
    policy.require(actor, policy.Action.CONVENTION_EDIT)
    key = _text(key, field="Tag name", limit=250, required=True)
    description = _text(description, field="Description", limit=200)
    if not TAG_KEY_RE.match(key):
        raise InvalidInput(f"Tag name {key!r} may only contain letters, digits, '_', '-', '.', ' ', ':' and '/'.")
    with transaction.atomic():
        if RequiredMetadataKey.objects.filter(key=key).exists():
            raise Conflict(f"'{key}' is already required.")
        position = (
            RequiredMetadataKey.objects.order_by("-position").values_list("position", flat=True).first() or 0
        ) + 1
        obj = RequiredMetadataKey.objects.create(key=key, description=description, position=position)
        audit_record(
            actor=actor,
            action="required_metadata.add",
            target_kind="model",
            target_id=f"required-metadata:{key}",
            after={"key": key, "description": description},
        )
    return obj


def required_key_remove(*, actor: Any, key_id: int) -> None:
    policy.require(actor, policy.Action.CONVENTION_EDIT)
    with transaction.atomic():
        obj = RequiredMetadataKey.objects.select_for_update().filter(pk=key_id).first()
        if obj is None:
            raise NotFound("No such required metadata key.")
        before = {"key": obj.key, "description": obj.description}
        obj.delete()
        audit_record(
            actor=actor,
            action="required_metadata.remove",
            target_kind="model",
            target_id=f"required-metadata:{before['key']}",
            before=before,
            after=None,
        )
