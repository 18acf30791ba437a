"""Writes of the notifications app.

`notify(event)` records one Notification per channel and recipient (idempotency key = event key +
channel + recipient, unique) and enqueues each after the current transaction commits, each delivered by
its own Celery task with its own retries: one channel failing never blocks or repeats another.
`notification_deliver` is what that task does: claim the row with a conditional update (so a duplicate
or retried message never sends twice), send, record sent / retry later / failed after the retries.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from configuration.selectors import notification_targets
from mlopsadmin import policy
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import Conflict, NotFound
from mlopsadmin.core.models import Team
from mlopsadmin.lib.redaction import scrub
from mlopsadmin.task_queue import send
from notifications import selectors
from notifications.channels import CHANNELS, DeliveryFailed, shorten
from notifications.models import DeliveryState, ModelWatch, Notification
from registry_ui import validation

logger = logging.getLogger(__name__)

# A claim older than this is taken to belong to a worker that died mid-send (acks_late redelivers).
CLAIM_LEASE = timedelta(minutes=10)
SYSTEM_ACTOR = "system:notifications"


@dataclass
class Event:
    """One governed event. `link` is a path of this site (made absolute with SITE_URL); `lines` are plain
    text (user text included as typed: each channel escapes it for its format). `audience`: "team" (the
    owning team's ML leads and the model's watchers) or "operations" (operators). `people`: addresses told
    besides the audience (the requester of a decision). `actor`: the person whose action this is, never
    told of it by email (None for what the system found or finished on its own)."""

    kind: str
    key: str
    subject: str
    lines: list[str]
    link: str
    team: Team | None = None
    model_name: str = ""
    people: list[str] = field(default_factory=list)
    audience: str = "team"
    actor: Any = None


def recipients_for(event: Event, targets: dict[str, Any] | None = None) -> list[str]:
    """Email addresses for `event` (de-duplicated, case-insensitively, by the email channel). The actor's
    own address is left out wherever it comes from (lead, watcher, NOTIFY_EMAILS): nobody is told of what
    they just did. A requester told of a decision is never its actor (four-eyes; a withdrawal by an admin).
    `targets`: configuration.selectors.notification_targets() when the caller has read it."""
    targets = targets if targets is not None else notification_targets()
    emails = list(targets["emails"]) + [p for p in event.people if p]
    if event.audience == "operations":
        emails += selectors.operator_emails()
    else:
        emails += selectors.team_lead_emails(event.team)
    if event.model_name:
        emails += selectors.watcher_emails(event.model_name)
    own = (getattr(event.actor, "email", "") or "").strip().lower()
    return [e for e in emails if not own or e.strip().lower() != own]


def _idempotency_key(event_key: str, channel: str, recipient: str) -> str:
    return hashlib.sha256(f"{event_key}|{channel}|{recipient}".encode()).hexdigest()


def _record(event: Event) -> list[int]:
    """One row per channel × recipient, keyed by its idempotency key: rows an earlier emission of the same
    event recorded are left alone. Returns the ids of the new rows (the existing keys are read once, the new
    rows inserted together; a concurrent emission of the same event falls back to one row at a time)."""
    targets = notification_targets()  # read once for every channel
    emails = recipients_for(event, targets)
    link = settings.SITE_URL + event.link if event.link.startswith("/") else event.link
    rows = {}
    team_id = event.team.pk if event.team else None
    for channel in CHANNELS.values():
        for recipient in channel.recipients(emails=emails, team_id=team_id, targets=targets):
            key = _idempotency_key(event.key, channel.name, recipient)
            rows[key] = Notification(
                idempotency_key=key,
                event=event.kind,
                event_key=event.key[:200],
                channel=channel.name,
                recipient=recipient,
                subject=shorten(event.subject, 255),
                lines=event.lines,
                link=link,
                team=event.team.name if event.team else "",
                model_name=event.model_name[:256],
            )
    if not rows:
        return []
    known = set(Notification.objects.filter(idempotency_key__in=list(rows)).values_list("idempotency_key", flat=True))
    new = [row for key, row in rows.items() if key not in known]
    try:
        with transaction.atomic():
            return [row.pk for row in Notification.objects.bulk_create(new)]
    except IntegrityError:  # the same event recorded concurrently: keep whichever row won, one by one
        created_ids = []
        for row in new:
            try:
                with transaction.atomic():
                    row.pk = None
                    row.save(force_insert=True)
            except IntegrityError:
                continue
            created_ids.append(row.pk)
        return created_ids


DELIVER_TASK_NAME = "notifications.tasks.deliver_notification"


def _enqueue(notification_id: int) -> None:
    # By task name (queued_task imports notifications.tasks): the tasks module calls this one, never back.
    try:
        send(DELIVER_TASK_NAME, kwargs={"notification_id": notification_id})
    except Exception as exc:  # broker down: the row stays pending; the requeue sweep sends it later
        logger.warning("notification %s not queued (will be retried by the sweep): %s", notification_id, exc)


def notify(event: Event) -> list[int]:
    """Record and (after commit) enqueue the notifications of `event`; returns the new row ids. Never
    raises: a notification problem must not fail the action that caused it."""
    try:
        with transaction.atomic():
            ids = _record(event)
    except Exception as exc:
        logger.warning("notifications of %s not recorded: %s", event.kind, exc)
        return []
    for notification_id in ids:
        transaction.on_commit(partial(_enqueue, notification_id), robust=True)
    return ids


# --- Delivery (the Celery task's body) ---------------------------------------------------------------
def _claim(notification_id: int) -> Notification | None:
    now = timezone.now()
    claimable = Q(state=DeliveryState.PENDING) | Q(state=DeliveryState.SENDING, claimed_at__lt=now - CLAIM_LEASE)
    claimed = Notification.objects.filter(claimable, pk=notification_id).update(
        state=DeliveryState.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
    )
    return Notification.objects.filter(pk=notification_id).first() if claimed else None


def notification_deliver(*, notification_id: int, final: bool) -> str:
    """Send one notification unless it was sent or is being sent. Returns "sent", "not claimed" or "sent
    late" (the attempt timed out but the receiver's answer came meanwhile: channels.late_answer);
    raises DeliveryFailed (message redacted) when sending failed and `final` is False (the task retries);
    on the final attempt records "failed" (audited, home-page warning) instead of raising."""
    row = _claim(notification_id)
    if row is None:
        return "not claimed"
    try:
        _send(row)
    except DeliveryFailed as exc:
        final = final or exc.permanent
        logger.warning(
            "notification %s (%s, %s) attempt %d failed: %s", row.pk, row.event, row.channel, row.attempts, exc
        )
        with transaction.atomic():  # a failed row always has its audit event, and the reverse
            state = DeliveryState.FAILED if final else DeliveryState.PENDING
            updated = Notification.objects.filter(pk=row.pk, state=DeliveryState.SENDING).update(
                state=state, last_error=str(exc), updated_at=timezone.now()
            )
            if not updated:  # a late answer marked it sent meanwhile (channels.late_answer): nothing to retry
                return "sent late"
            if final:
                audit_record(
                    actor=SYSTEM_ACTOR,
                    action="notification.failed",
                    target_kind="notification",
                    target_id=row.pk,
                    team=row.team,
                    after={
                        "event": row.event,
                        "channel": row.channel,
                        "recipient": _shown(row),
                        "attempts": row.attempts,
                    },
                    reason=str(exc),
                    outcome="failed",
                )
        if not final:
            raise
        return "failed"
    now = timezone.now()
    Notification.objects.filter(pk=row.pk).update(state=DeliveryState.SENT, sent_at=now, last_error="", updated_at=now)
    return "sent"


def _send(row: Notification) -> None:
    """The channel's send; whatever else it raises (a channel bug, a worker time limit) is a failed
    attempt too, never a row left in `sending`."""
    try:
        CHANNELS[row.channel].send(row)
    except DeliveryFailed:
        raise
    except Exception as exc:
        logger.exception("notification %s: unexpected error while sending", row.pk)
        raise DeliveryFailed(scrub(f"{type(exc).__name__}: {exc}")[:1000]) from None


def _shown(row: Notification) -> str:
    return CHANNELS[row.channel].describe(row.recipient) if row.channel in CHANNELS else row.recipient


def notifications_requeue(*, older_than: timedelta = CLAIM_LEASE) -> list[int]:
    """Enqueue again (at most 1000, oldest first) what no queued message will deliver: rows never queued
    (the broker was down), rows claimed by a dead worker, and rows whose retry is overdue by `older_than`
    (its message was lost). A row still waiting for its retry (NOTIFY_RETRY_DELAY doubling, up to
    `older_than` late) is left to it, or it would get a second chain of attempts. Returns the ids."""
    now = timezone.now()
    cutoff = now - older_than
    stuck = Q(state=DeliveryState.SENDING, claimed_at__lt=cutoff) | Q(
        state=DeliveryState.PENDING, attempts=0, updated_at__lt=cutoff
    )
    for failed_attempts in range(1, settings.NOTIFY_MAX_RETRIES + 1):  # the wait before retry n is delay * 2**(n-1)
        wait = timedelta(seconds=settings.NOTIFY_RETRY_DELAY * 2 ** (failed_attempts - 1))
        stuck |= Q(state=DeliveryState.PENDING, attempts=failed_attempts, updated_at__lt=cutoff - wait)
    longest = timedelta(seconds=settings.NOTIFY_RETRY_DELAY * 2 ** max(settings.NOTIFY_MAX_RETRIES - 1, 0))
    stuck |= Q(state=DeliveryState.PENDING, attempts__gt=settings.NOTIFY_MAX_RETRIES, updated_at__lt=cutoff - longest)
    ids = list(Notification.objects.filter(stuck).order_by("pk").values_list("pk", flat=True)[:1000])
    for notification_id in ids:
        _enqueue(notification_id)
    return ids


# --- Re-send and watching (people's actions, audited) -------------------------------------------------
def notification_resend(*, actor: Any, notification_id: int) -> Notification:
    """Queue a failed notification again (admins and operators). Refuses one that was sent or is still
    being tried (409): re-sending never delivers a message twice."""
    policy.require(actor, policy.Action.NOTIFICATION_RESEND)
    row = Notification.objects.filter(pk=notification_id).first()
    if row is None:
        raise NotFound(f"No notification #{notification_id}.")
    with transaction.atomic():
        now = timezone.now()
        updated = Notification.objects.filter(pk=row.pk, state=DeliveryState.FAILED).update(
            state=DeliveryState.PENDING, updated_at=now
        )
        if updated != 1:
            raise Conflict(f"Notification #{row.pk} is {row.state}, not failed: nothing to re-send.")
        audit_record(
            actor=actor,
            action="notification.resend",
            target_kind="notification",
            target_id=row.pk,
            team=row.team,
            before={"state": DeliveryState.FAILED, "last_error": row.last_error},
            after={
                "state": DeliveryState.PENDING,
                "event": row.event,
                "channel": row.channel,
                "recipient": _shown(row),
            },
        )
        transaction.on_commit(lambda: _enqueue(row.pk), robust=True)
    row.refresh_from_db()
    return row


def model_watch_set(*, actor: Any, model_name: str, watch: bool) -> bool:
    """Start (`watch=True`) or stop watching a model; audited when it changes. Returns whether the
    actor now watches it. Any signed-in user but an auditor (read-only) may watch."""
    policy.require(actor, policy.Action.MODEL_WATCH)
    model_name = validation.model_name(model_name)  # InvalidInput (400): never another name, cut or trimmed
    with transaction.atomic():
        if watch:
            _, changed = ModelWatch.objects.get_or_create(user=actor, model_name=model_name)
        else:
            changed = ModelWatch.objects.filter(user=actor, model_name=model_name).delete()[0] > 0
        if changed:
            audit_record(
                actor=actor,
                action="model.watch" if watch else "model.unwatch",
                target_kind="model",
                target_id=model_name,
                before={"watching": not watch},
                after={"watching": watch},
            )
    return watch
