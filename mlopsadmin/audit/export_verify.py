"""Verifying an audit export file (CSV or JSON Lines) offline: no database, the key from the environment.

An export carries every hashed column, so each event's hash is recomputed exactly as `audit_verify_chain`
does; consecutive events must link (an export filtered by actor, team, ... does not: `partial=True`
checks the hashes only). With a checkpoint, the export must reach it with the same hash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from mlopsadmin.audit.checkpoint import Checkpoint, compare_checkpoint
from mlopsadmin.audit.selectors import parse_csv_export
from mlopsadmin.audit.services import (
    DIGEST_FIELDS,
    GENESIS_HASH,
    OPTIONAL_DIGEST_FIELDS,
    ChainReport,
    ChainWalk,
)


class ExportFormatError(Exception):
    """The file is not an audit export (unreadable, a missing column, a malformed line)."""


def read_export(path: Path) -> list[dict[str, Any]]:
    """The rows of a CSV or JSON Lines export, oldest first. Raises ExportFormatError."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportFormatError(f"cannot read {path}: {exc}") from exc
    try:
        if text.lstrip().startswith("{"):
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            rows = parse_csv_export(text)
        for row in rows:
            row["occurred_at"] = datetime.fromisoformat(row["occurred_at"])
            for name in OPTIONAL_DIGEST_FIELDS:  # exports written before the column existed: never set
                row.setdefault(name, None)
            missing = [name for name in ("id", "event_hash", "chain_version", *DIGEST_FIELDS) if name not in row]
            if missing:
                raise ExportFormatError(f"event {row.get('id')} lacks {', '.join(missing)} (an older export?)")
    except (ValueError, KeyError, TypeError) as exc:
        raise ExportFormatError(f"{path} is not an audit export: {exc}") from exc
    return sorted(rows, key=lambda row: int(row["id"]))


def verify_rows(
    rows: Iterable[dict[str, Any]], *, partial: bool = False, checkpoint: Checkpoint | None = None
) -> ChainReport:
    """Verify export rows (oldest first). `partial`: do not require consecutive rows to link.
    A checkpoint is compared when given: the rows must include its event with its hash (and, for an
    export that starts at the first event, as many events up to it)."""
    walk = ChainWalk(expected_prev=None)
    from_start = None
    at_mark: tuple[str | None, int] = (None, 0)
    for row in rows:
        if from_start is None:
            from_start = row["prev_hash"] == GENESIS_HASH
        if partial:
            walk.expected_prev = None
        values = {name: row[name] for name in DIGEST_FIELDS}
        problem = walk.check(int(row["id"]), row["event_hash"], int(row["chain_version"]), values)
        if problem:
            return ChainReport(walk.checked, int(row["id"]), problem)
        if checkpoint is not None and int(row["id"]) == checkpoint.event_id:
            at_mark = (row["event_hash"], walk.checked if from_start else checkpoint.count)
    if checkpoint is not None:
        problem = compare_checkpoint(checkpoint, at_mark[0], at_mark[1], walk.checked)
        if problem:
            return ChainReport(walk.checked, checkpoint.event_id, problem)
    return ChainReport(walk.checked, None, "")
