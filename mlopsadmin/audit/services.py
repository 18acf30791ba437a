"""Writing and verifying the append-only, hash-chained audit log.

Every state change in mlopsadmin calls `audit_record` exactly once. Secrets never belong in
`before`/`after`: `redact` strips keys that look like credentials before anything is hashed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from mlopsadmin.core.formatting import json_safe
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.core.request_context import current_request_id

GENESIS_HASH = "0" * 64
_CHAIN_LOCK_KEY = 7_231_004  # pg advisory lock id for appending to the chain
SECRET_KEY_PARTS = ("password", "secret", "token", "access_key", "api_key", "credential")


def _secret_key(key: Any, value: Any) -> bool:
    # A flag such as {"password_changed": true} says nothing secret; only values that could hold one go.
    return not isinstance(value, bool | None) and any(p in str(key).lower() for p in SECRET_KEY_PARTS)


def redact(value: Any) -> Any:
    """Secrets out; NaN and ±inf (MLflow metrics can be either) become "NaN"/"Infinity"/"-Infinity", which
    JSON columns accept (a bare NaN is not JSON and both databases refuse it)."""
    if isinstance(value, dict):
        return {k: ("[redacted]" if _secret_key(k, v) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return json_safe(value)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=True)


# The columns the hash covers, in the order `audit_verify_chain` reads them.
DIGEST_FIELDS = (
    "occurred_at",
    "actor_id",
    "actor_name",
    "action",
    "target_kind",
    "target_id",
    "team",
    "before",
    "after",
    "reason",
    "request_id",
    "outcome",
    "prev_hash",
)


def digest_values(values: dict[str, Any]) -> str:
    """The hash of one event given its DIGEST_FIELDS as a dict (occurred_at an aware datetime)."""
    content = dict(values)
    content["occurred_at"] = values["occurred_at"].isoformat(timespec="microseconds")
    return hashlib.sha256(_canonical(content).encode()).hexdigest()


def event_digest(event: AuditEvent) -> str:
    return digest_values({name: getattr(event, name) for name in DIGEST_FIELDS})


def actor_label(actor: Any) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return str(actor.get_username())


def audit_record(
    *,
    actor: Any,
    action: str,
    target_kind: str,
    target_id: str | int,
    team: str = "",
    before: Any = None,
    after: Any = None,
    reason: str = "",
    outcome: str = "ok",
    request_id: str | None = None,
) -> AuditEvent:
    """Append one event. `actor` is a user, None, or a string like 'system:reaper'."""
    user = actor if actor is not None and not isinstance(actor, str) else None
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        last = AuditEvent.objects.order_by("-id").values_list("event_hash", flat=True).first()
        event = AuditEvent(
            occurred_at=timezone.now(),
            actor=user,
            actor_name=actor_label(actor)[:150],
            action=action,
            target_kind=target_kind,
            target_id=str(target_id)[:512],
            team=team or "",
            before=redact(before),
            after=redact(after),
            reason=reason or "",
            request_id=request_id if request_id is not None else current_request_id.get(),
            outcome=outcome,
            prev_hash=last or GENESIS_HASH,
        )
        # Hash what the database will give back (JSON round trip), so verify() sees the same bytes.
        event.before = json.loads(_canonical(event.before))
        event.after = json.loads(_canonical(event.after))
        event.event_hash = event_digest(event)
        event.save()
    return event


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_break_id: int | None
    problem: str

    @property
    def ok(self) -> bool:
        return self.first_break_id is None


def audit_verify_chain(*, batch_size: int = 5000) -> ChainReport:
    """Walk the chain oldest first; report the first event whose hash or link does not match.

    Reads only the hashed columns (as tuples, no model instances) through a server-side cursor in
    chunks of `batch_size`, so a million events are checked in constant memory.
    """
    expected_prev = GENESIS_HASH
    checked = 0
    rows = AuditEvent.objects.order_by("id").values_list("id", "event_hash", *DIGEST_FIELDS)
    for row in rows.iterator(chunk_size=batch_size):
        event_id, event_hash = row[0], row[1]
        values = dict(zip(DIGEST_FIELDS, row[2:], strict=True))
        if values["prev_hash"] != expected_prev:
            return ChainReport(
                checked, event_id, "link to the previous event is broken (a row was removed or reordered)"
            )
        if digest_values(values) != event_hash:
            return ChainReport(checked, event_id, "content does not match its hash (the row was altered)")
        expected_prev = event_hash
        checked += 1
    return ChainReport(checked, None, "")
