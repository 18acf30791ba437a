"""Writing and verifying the append-only, hash-chained audit log.

Every state change in mlopsadmin calls `audit_record` exactly once. Secrets never belong in
`before`/`after`: `redact` strips keys that look like credentials before anything is hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from mlopsadmin.audit import operations
from mlopsadmin.audit.checkpoint import (
    CheckpointError,
    checkpoint_forget,
    checkpoint_head,
    compare_checkpoint,
    missing_checkpoint_problem,
    read_checkpoint,
    write_checkpoint,
)
from mlopsadmin.core.formatting import json_safe
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.core.request_context import current_request_id

GENESIS_HASH = "0" * 64
_CHAIN_LOCK_KEY = 7_231_004  # pg advisory lock id for appending to the chain
SECRET_KEY_PARTS = ("password", "secret", "token", "access_key", "api_key", "credential")
_SECRET_KEY = re.compile("|".join(SECRET_KEY_PARTS))  # one scan of the key, not one per part (issue 20)


def _secret_key(key: Any, value: Any) -> bool:
    # A flag such as {"password_changed": true} says nothing secret; only values that could hold one go.
    return not isinstance(value, bool | None) and _SECRET_KEY.search(str(key).lower()) is not None


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
    "operation_id",
)
# Columns added to the chain after events existed: hashed only when set, so every earlier event (where
# they are empty) keeps its hash, and setting or clearing one later breaks the event's hash.
OPTIONAL_DIGEST_FIELDS = ("operation_id",)


UNKEYED, KEYED = 1, 2  # AuditEvent.chain_version


class AuditKeyMissing(Exception):
    """A keyed (version 2) event must be hashed or verified but AUDIT_HMAC_KEY is not set."""


def digest_values(values: dict[str, Any], chain_version: int = UNKEYED, key: str | None = None) -> str:
    """The hash of one event given its DIGEST_FIELDS as a dict (occurred_at an aware datetime).

    Version 1: SHA-256 of the canonical JSON (events written before the keyed chain). Version 2:
    HMAC-SHA256 with `key` (default settings.AUDIT_HMAC_KEY) over the same JSON plus the version, so
    whoever can write the table but lacks the key cannot recompute it. OPTIONAL_DIGEST_FIELDS count only
    when set. Raises AuditKeyMissing."""
    content = {k: v for k, v in values.items() if not (k in OPTIONAL_DIGEST_FIELDS and v is None)}
    content["occurred_at"] = values["occurred_at"].isoformat(timespec="microseconds")
    if chain_version == UNKEYED:
        return hashlib.sha256(_canonical(content).encode()).hexdigest()
    secret = key if key is not None else settings.AUDIT_HMAC_KEY
    if not secret:
        raise AuditKeyMissing("AUDIT_HMAC_KEY is not set: keyed audit events cannot be hashed or verified.")
    content["chain_version"] = chain_version
    return hmac.new(secret.encode(), _canonical(content).encode(), hashlib.sha256).hexdigest()


def event_digest(event: AuditEvent) -> str:
    return digest_values({name: getattr(event, name) for name in DIGEST_FIELDS}, event.chain_version)


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
    """Append one event. `actor` is a user, None, or a string like 'system:reaper'. Inside
    `operations.audit_operation()` the event is an item of that operation (or starts it: see there)."""
    keywords = {"actor": actor, "action": action, "target_kind": target_kind, "target_id": target_id, "team": team}
    keywords |= {"before": before, "after": after, "reason": reason, "outcome": outcome, "request_id": request_id}
    return audit_record_many([keywords])[0]


def audit_record_many(events: list[dict[str, Any]]) -> list[AuditEvent]:
    """Append several events, in this order, in one transaction (a bulk action's chunk): each is its own
    link of the chain exactly as if audit_record had been called for each (`events`: audit_record's
    keywords), with one chain lock, one read of the head and one INSERT. Returns them with their ids."""
    if not events:
        return []
    operation = operations.current()
    # Inside a caller's transaction this joins it (no savepoint round trips: issue 20); an error still
    # rolls the whole transaction back, so no event is ever half-written.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        last = AuditEvent.objects.order_by("-id").values_list("event_hash", flat=True).first()
        built: list[AuditEvent] = []
        for keywords in events:
            event = _event(last or GENESIS_HASH, operation, keywords)
            last = event.event_hash
            if len(events) == 1 or (operation is not None and operation.head_id is None):
                event.save()
            if operation is not None and operation.head_id is None:
                operation.head_id = event.id  # the operation's first event: later ones are its items
            built.append(event)
        fresh = [event for event in built if event.pk is None]
        AuditEvent.objects.bulk_create(fresh)
        ids = [event.id for event in built]
        transaction.on_commit(lambda: _checkpoint_after_writes(ids))
    return built


def _checkpoint_after_writes(ids: list[int]) -> None:
    every = max(1, settings.AUDIT_CHECKPOINT_EVERY)
    crossed = [event_id for event_id in ids if event_id and event_id % every == 0]
    if crossed:
        checkpoint_after_write(crossed[-1])


def _event(prev_hash: str, operation: operations.Operation | None, keywords: dict[str, Any]) -> AuditEvent:
    """One event (`keywords`: audit_record's), hashed after `prev_hash`, not saved."""
    actor, request_id = keywords["actor"], keywords.get("request_id")
    user = actor if actor is not None and not isinstance(actor, str) else None
    event = AuditEvent(
        occurred_at=timezone.now(),
        actor=user,
        actor_name=actor_label(actor)[:150],
        action=keywords["action"],
        target_kind=keywords["target_kind"],
        target_id=str(keywords["target_id"])[:512],
        team=keywords.get("team") or "",
        before=redact(keywords.get("before")),
        after=redact(keywords.get("after")),
        reason=keywords.get("reason") or "",
        request_id=request_id if request_id is not None else current_request_id.get(),
        outcome=keywords.get("outcome", "ok"),
        prev_hash=prev_hash,
        # Without a key (production refuses to start: check E010) the chain stays verifiable, unkeyed.
        chain_version=KEYED if settings.AUDIT_HMAC_KEY else UNKEYED,
        operation_id=operation.head_id if operation is not None else None,
    )
    # Hash what the database will give back (JSON round trip), so verify() sees the same bytes.
    event.before = json.loads(_canonical(event.before))
    event.after = json.loads(_canonical(event.after))
    event.event_hash = event_digest(event)
    return event


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_break_id: int | None
    problem: str

    @property
    def ok(self) -> bool:
        return self.first_break_id is None and not self.problem


class ChainWalk:
    """Checks events fed oldest first (from the database or an export file): links, hashes, versions.

    A keyed event followed by an unkeyed one is a break: the chain only moves from version 1 to 2, so a
    rewrite that recomputes plain SHA-256 hashes over keyed events is found. `check` returns a problem
    text or "" (the event is good)."""

    def __init__(self, *, key: str | None = None, expected_prev: str | None = GENESIS_HASH) -> None:
        self.key = key
        self.expected_prev = expected_prev  # None: the first event may link to anything (partial export)
        self.checked = 0
        self.version = UNKEYED
        self.head: tuple[int, str] | None = None

    def check(self, event_id: int, event_hash: str, chain_version: int, values: dict[str, Any]) -> str:
        if self.expected_prev is not None and values["prev_hash"] != self.expected_prev:
            return "link to the previous event is broken (a row was removed or reordered)"
        if chain_version < self.version or chain_version not in (UNKEYED, KEYED):
            return f"chain version {chain_version} after version {self.version} (unkeyed rewrite of keyed events)"
        try:
            digest = digest_values(values, chain_version, self.key)
        except AuditKeyMissing as exc:
            return str(exc)
        if not hmac.compare_digest(digest, event_hash):
            return "content does not match its hash (the row was altered)"
        self.expected_prev, self.version = event_hash, chain_version
        self.checked += 1
        self.head = (event_id, event_hash)
        return ""


def audit_verify_chain(*, batch_size: int = 5000, checkpoint: Any = None) -> ChainReport:
    """Walk the chain oldest first; report the first event whose hash or link does not match, then
    compare the end of the chain with the checkpoint outside the database (truncation, tail deletion).

    Reads only the hashed columns (as tuples, no model instances) through a server-side cursor in
    chunks of `batch_size`, so a million events are checked in constant memory. `checkpoint`: a
    `Checkpoint` to compare with; default: read from AUDIT_CHECKPOINT_PATH (none configured: skipped).
    An intact chain that reaches the checkpoint moves the checkpoint to the current head.
    """
    walk = ChainWalk()
    at_mark: tuple[str | None, int] = (None, 0)
    try:
        mark = checkpoint if checkpoint is not None else read_checkpoint()
        missing = missing_checkpoint_problem() if checkpoint is None and mark is None else ""
    except CheckpointError as exc:
        return ChainReport(0, None, str(exc))
    rows = AuditEvent.objects.order_by("id").values_list("id", "event_hash", "chain_version", *DIGEST_FIELDS)
    for row in rows.iterator(chunk_size=batch_size):
        values = dict(zip(DIGEST_FIELDS, row[3:], strict=True))
        problem = walk.check(row[0], row[1], row[2], values)
        if problem:
            return ChainReport(walk.checked, row[0], problem)
        if mark is not None and row[0] == mark.event_id:
            at_mark = (row[1], walk.checked)
    if mark is not None:
        problem = compare_checkpoint(mark, at_mark[0], at_mark[1], walk.checked)
        if problem:
            return ChainReport(walk.checked, mark.event_id, problem)
    if missing:  # never re-created here: that would hide events deleted meanwhile
        return ChainReport(walk.checked, None, missing)
    if walk.head is not None and checkpoint is None:
        try:
            write_checkpoint(*walk.head, walk.checked)
        except CheckpointError as exc:
            return ChainReport(walk.checked, None, f"chain intact, but {exc}")
    return ChainReport(walk.checked, None, "")


def audit_checkpoint_new(*, actor: Any) -> None:
    """Forget the checkpoint written to AUDIT_CHECKPOINT_PATH before (missing: moved, or a new location) so the
    next verification starts a new one at the head; one `audit.checkpoint_new` event. Rule: issue 14, case 9
    (a missing checkpoint is reported until an operator decides so)."""
    with transaction.atomic():
        checkpoint_forget()
        audit_record(
            actor=actor,
            action="audit.checkpoint_new",
            target_kind="audit",
            target_id="checkpoint",
            after={"location": settings.AUDIT_CHECKPOINT_PATH},
            reason="A new audit checkpoint is started at the verified head (the previous one is missing).",
        )


def checkpoint_after_write(event_id: int) -> None:
    """After a committed write: move the checkpoint to the head every AUDIT_CHECKPOINT_EVERY events."""
    every = max(1, settings.AUDIT_CHECKPOINT_EVERY)
    if settings.AUDIT_CHECKPOINT_PATH and event_id % every == 0:
        checkpoint_head()
