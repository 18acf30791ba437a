"""Approvals whose MLflow outcome was unknown: a tag write failed and MLflow could not be read back, so the
request stayed pending with an `unconfirmed` marker (who decided, the tags, the tags before). As soon as
MLflow answers (the hourly approvals import runs this first), MLflow is read back and the outcome recorded
from what it shows, attributed to the person who approved — never as an approval made outside mlopsadmin:

- every approval tag there → the approval happened: the request is approved (by that person, at that time);
- otherwise → what did land is put back, read back again, and the approval is recorded as failed (or
  partial, when tags could not be put back).

A write whose answer was lost but which the read-back did not show (MLflow may still apply it from its
backlog) leaves a marker too, with the outcome already recorded (`recorded`) and `watch_until`: tags that land
late are handled as above (the approval stands, or they are put back), attributed to the approver and never
imported as an approval made outside; when nothing landed by `watch_until` the marker is dropped silently.

Approving, rejecting or withdrawing the request meanwhile clears the marker (a newer decision wins)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from mlopsadmin.audit.services import audit_record
from notifications import events as notification_events
from registry_ui.models import ApprovalRequest, ApprovalState
from registry_ui.tag_writes import differing, version_tags_read, version_tags_write

logger = logging.getLogger(__name__)

SYSTEM_RESOLVER = "system:approval-import"
READ_BACK_LATER = "Outcome read back later from MLflow (the approval's answer was lost and MLflow was not readable)"
APPLIED_LATE = "Applied late by MLflow (the approval's answer was lost; the read-back did not show it yet)"
LATE_WATCH_SECONDS = 600  # a write whose answer was lost can still be applied from the server's backlog


def approvals_unconfirmed_resolve(*, model_name: str | None = None) -> int:
    """Resolve the pending approvals with an unknown outcome (of one model, or all) from what MLflow shows;
    returns how many were resolved (those MLflow still cannot show stay for the next run)."""
    pending = ApprovalRequest.objects.filter(state=ApprovalState.PENDING, unconfirmed__isnull=False)
    if model_name:
        pending = pending.filter(model_name=model_name)
    return sum(_resolve_one(request_id) for request_id in pending.values_list("pk", flat=True))


def _resolve_one(request_id: int) -> bool:
    with transaction.atomic():
        req = (
            ApprovalRequest.objects.select_for_update(of=("self",))
            .filter(pk=request_id, state=ApprovalState.PENDING, unconfirmed__isnull=False)
            .first()
        )
        if req is None:
            return False
        marker: dict[str, Any] = req.unconfirmed or {}
        tags, before = dict(marker.get("tags") or {}), dict(marker.get("before") or {})
        observed = version_tags_read(req.model_name, req.version)
        if observed is None:
            return False  # still unreadable: the next run tries again
        decider_id = marker.get("decider_id")
        decider = get_user_model().objects.filter(pk=decider_id).first() if decider_id else None
        late = bool(marker.get("recorded"))  # its outcome was recorded; only a late landing is news
        why = APPLIED_LATE if late else READ_BACK_LATER
        if tags and not differing(tags, observed):
            _record_approved(req, decider, marker, tags, why=why)
            transaction.on_commit(lambda: notification_events.approval_decided(req, actor=decider))
            return True
        landed = [key for key in tags if observed.get(key) != before.get(key)]
        if late and not landed:
            if timezone.now() < datetime.fromisoformat(str(marker.get("watch_until"))):
                return False  # nothing landed yet: watched until then
            ApprovalRequest.objects.filter(pk=req.pk).update(unconfirmed=None)  # as recorded: not applied
            return True
        if landed:
            back: dict[str, str | None] = {key: before.get(key) for key in landed}
            written = version_tags_write(req.model_name, req.version, back)
            observed = written.observed if written.error else version_tags_read(req.model_name, req.version)
            if observed is None:
                return False
        left = [key for key in tags if observed.get(key) != before.get(key)]
        ApprovalRequest.objects.filter(pk=req.pk).update(unconfirmed=None)
        approve_outcome_event(
            decider or SYSTEM_RESOLVER,
            req.target_id,
            req.team,
            outcome="partial" if left else "failed",
            after={"planned_tags": tags, "mlflow_tags": {k: observed[k] for k in tags if k in observed}},
            reason=f"{why}: the approval was not applied"
            + (f"; tags {', '.join(left)} could not be put back." if left else "; what had landed was put back."),
        )
    return True


def _record_approved(
    req: ApprovalRequest, decider: Any, marker: dict[str, Any], tags: dict[str, str], *, why: str
) -> None:
    decided_at = datetime.fromisoformat(marker["at"]) if marker.get("at") else None
    ApprovalRequest.objects.filter(pk=req.pk).update(
        state=ApprovalState.APPROVED,
        decided_by=decider,
        decided_at=decided_at,
        updated_at=timezone.now(),
        unconfirmed=None,
    )
    req.refresh_from_db()
    approve_outcome_event(
        decider or SYSTEM_RESOLVER,
        req.target_id,
        req.team,
        outcome="ok",
        before={"request_id": req.pk, "state": ApprovalState.PENDING},
        after={"request_id": req.pk, "state": req.state, "tags": tags},
        reason=f"{why}: MLflow shows the approval tags, so the approval stands.",
    )


def approve_outcome_event(
    actor: Any, target: str, team: str, *, outcome: str, reason: str, after: dict[str, Any], before: Any = None
) -> None:
    """One `approval.approve` audit event of `target` ('<model>/<version>') with its outcome."""
    audit_record(
        actor=actor,
        action="approval.approve",
        target_kind="model_version",
        target_id=target,
        team=team,
        before=before,
        after=after,
        reason=reason,
        outcome=outcome,
    )
