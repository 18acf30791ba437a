"""Notifications recorded by a worker, off the request path (issue 20: a promotion answered only after its
notification rows were recorded — recipients read, keys checked, rows inserted, one task queued per row).

`notify_later(event)` sends the event itself (JSON: ids, never ORM objects) to a worker after the current
transaction commits, with one publish; the worker records it with `services.notify`, exactly as it was
recorded in the request before. Exactly once: the event's key travels with the message and every row is
keyed by it (idempotency key = event key + channel + recipient), so a message delivered twice records
nothing new. A broker that does not take the message: the event is recorded here at once instead (its rows
wait for the requeue sweep), so nothing is lost.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from mlopsadmin.core.models import Team
from mlopsadmin.task_queue import send
from notifications.services import Event, notify

logger = logging.getLogger(__name__)

RECORD_TASK_NAME = "notifications.tasks.record_event"


def event_as_json(event: Event) -> dict[str, Any]:
    """`event` as task arguments: the team and the actor by id (an actor that is no user, e.g. the system:
    none, it is told nothing either way)."""
    person = event.actor is not None and not isinstance(event.actor, str)
    actor_id = getattr(event.actor, "pk", None) if person else None
    return {
        "kind": event.kind,
        "key": event.key,
        "subject": event.subject,
        "lines": list(event.lines),
        "link": event.link,
        "team_id": event.team.pk if event.team is not None else None,
        "model_name": event.model_name,
        "people": list(event.people),
        "audience": event.audience,
        "actor_id": actor_id,
    }


def event_from_json(data: dict[str, Any]) -> Event:
    """The Event `event_as_json` described, its team and actor read again (gone since: None)."""
    team = Team.objects.filter(pk=data["team_id"]).first() if data.get("team_id") else None
    actor = get_user_model().objects.filter(pk=data["actor_id"]).first() if data.get("actor_id") else None
    return Event(
        kind=data["kind"],
        key=data["key"],
        subject=data["subject"],
        lines=list(data["lines"]),
        link=data["link"],
        team=team,
        model_name=data.get("model_name", ""),
        people=list(data.get("people", [])),
        audience=data.get("audience", "team"),
        actor=actor,
    )


def notify_later(event: Event) -> None:
    """Have a worker record (and queue) the notifications of `event` once the current transaction commits
    (at once outside one). Never raises; when the broker does not take the message the event is recorded
    here (services.notify), as it was before."""
    payload = event_as_json(event)

    def publish() -> None:
        try:
            send(RECORD_TASK_NAME, kwargs={"event": payload})
        except Exception as exc:  # broker down or frozen: record here, the requeue sweep delivers later
            logger.warning("notifications of %s recorded in the request (broker: %s)", event.kind, exc)
            notify(event)

    transaction.on_commit(publish, robust=True)


def event_record(*, event: dict[str, Any]) -> int:
    """What the worker does with a message of `notify_later`: record the event's notifications (rows an
    earlier delivery of the same message recorded are left alone). Returns how many rows are new."""
    return len(notify(event_from_json(event)))
