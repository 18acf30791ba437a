"""The audit chain's head written outside the database: (event id, event hash, events up to it).

A database writer can TRUNCATE the table or delete its newest rows; the remaining chain still links.
The checkpoint, kept where that writer cannot reach (a file on another volume, an S3 object with its
own credentials), says how long the chain was: verification reports "chain shorter than checkpoint #N".
Location: settings.AUDIT_CHECKPOINT_PATH (a file path or s3://bucket/key); empty = no checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from mlopsadmin.core.models import AuditCheckpointMark, AuditEvent
from mlopsadmin.lib import s3

log = logging.getLogger("mlopsadmin.audit")


class CheckpointError(Exception):
    """The checkpoint cannot be read or written (unreadable file, S3 refused, malformed content)."""


@dataclass(frozen=True)
class Checkpoint:
    event_id: int
    event_hash: str
    count: int  # events from the start of the chain up to and including event_id

    def to_json(self) -> str:
        return json.dumps({"event_id": self.event_id, "event_hash": self.event_hash, "count": self.count}) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Checkpoint from its JSON text. Raises CheckpointError when malformed."""
    try:
        data = json.loads(text)
        return Checkpoint(int(data["event_id"]), str(data["event_hash"]), int(data["count"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"malformed audit checkpoint: {exc}") from exc


def read_checkpoint(location: str | None = None) -> Checkpoint | None:
    """The stored checkpoint, or None when none is configured or none was written yet."""
    where = location if location is not None else settings.AUDIT_CHECKPOINT_PATH
    if not where:
        return None
    try:
        text = s3.get_text(where) if where.startswith("s3://") else Path(where).read_text()
    except FileNotFoundError:
        return None
    except (OSError, s3.S3Error) as exc:
        raise CheckpointError(f"cannot read the audit checkpoint {where}: {exc}") from exc
    return parse_checkpoint(text) if text is not None else None


def write_checkpoint(event_id: int, event_hash: str, count: int) -> None:
    """Store the head (atomically for files: write a temporary file, then rename), and mark in the database
    that a checkpoint exists there (AuditCheckpointMark), so its later absence is reported."""
    where = settings.AUDIT_CHECKPOINT_PATH
    if not where:
        return
    text = Checkpoint(event_id, event_hash, count).to_json()
    try:
        if where.startswith("s3://"):
            s3.put_text(where, text)
        else:
            target = Path(where)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".audit-checkpoint-")
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.replace(tmp, target)
    except (OSError, s3.S3Error) as exc:
        raise CheckpointError(f"cannot write the audit checkpoint {where}: {exc}") from exc
    try:
        AuditCheckpointMark.objects.update_or_create(
            location=where[:1000], defaults={"event_id": event_id, "count": count, "written_at": timezone.now()}
        )
    except DatabaseError as exc:  # the checkpoint itself is written; the mark follows with the next one
        log.warning("audit checkpoint mark not recorded: %s", exc)


def missing_checkpoint_problem() -> str:
    """ "" unless a checkpoint was written to AUDIT_CHECKPOINT_PATH before and none is there now: then what
    verification reports (it was deleted or moved; restore it, or start a new one with
    `manage.py verify_audit --new-checkpoint`). Raises CheckpointError when the location cannot be read."""
    where = settings.AUDIT_CHECKPOINT_PATH
    if not where or read_checkpoint() is not None:
        return ""
    mark = AuditCheckpointMark.objects.filter(location=where[:1000]).first()
    if mark is None:
        return ""  # none written yet: the first verification or write starts it
    return (
        f"the audit checkpoint {where} is missing: one was written there at event #{mark.event_id} "
        f"({mark.count} events) on {mark.written_at:%Y-%m-%d %H:%M} UTC (deleted or moved?). Events deleted since "
        f"cannot be ruled out; restore the checkpoint, or start a new one after investigating "
        f"(manage.py verify_audit --new-checkpoint)"
    )


def checkpoint_forget() -> None:
    """Forget that a checkpoint was written to AUDIT_CHECKPOINT_PATH (the operator starts a new one)."""
    AuditCheckpointMark.objects.filter(location=settings.AUDIT_CHECKPOINT_PATH[:1000]).delete()


def compare_checkpoint(mark: Checkpoint, hash_at_mark: str | None, count_at_mark: int, total: int) -> str:
    """What is wrong with a chain of `total` events against `mark` ("" = consistent).

    `hash_at_mark`/`count_at_mark`: the stored hash of event mark.event_id and the events up to it
    (None/0 when that event is not in the database)."""
    if hash_at_mark is None:
        return f"chain shorter than checkpoint #{mark.event_id} ({total} events, checkpoint counted {mark.count})"
    if hash_at_mark != mark.event_hash:
        return f"event #{mark.event_id} does not match the checkpoint's hash (the chain was rewritten)"
    if count_at_mark != mark.count:
        return f"{count_at_mark} events up to #{mark.event_id}, the checkpoint counted {mark.count} (rows removed)"
    return ""


def checkpoint_head() -> None:
    """Move the checkpoint to the newest event, unless the chain no longer reaches the old checkpoint
    (then it stays where it is, so verification still reports the loss; logged). Failures are logged:
    a change already committed is never failed by its checkpoint."""
    try:
        old = read_checkpoint()
        if old is None and missing_checkpoint_problem():
            log.error(
                "audit checkpoint %s is missing; not re-created (verify_audit says why)", settings.AUDIT_CHECKPOINT_PATH
            )
            return
        head = AuditEvent.objects.order_by("-id").values_list("id", "event_hash").first()
        if head is None or (old is not None and head[0] <= old.event_id):
            return
        if old is not None:
            stored = AuditEvent.objects.filter(id=old.event_id).values_list("event_hash", flat=True).first()
            if stored != old.event_hash:
                log.error("audit checkpoint #%s no longer matches the database; not moved", old.event_id)
                return
        write_checkpoint(head[0], head[1], AuditEvent.objects.filter(id__lte=head[0]).count())
    except CheckpointError as exc:
        log.error("%s", exc)
