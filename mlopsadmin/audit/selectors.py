"""Reads of the audit log: filtering, keyset pages, streamed exports, object histories, differences.

Every list is ordered newest first by id and paged by keyset ("older than id X"), never by OFFSET, so
page 20,000 costs the same as page 1. Each filter has a matching index (see migration 0003).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KT
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.core.formatting import CsvLines, csv_cell_value
from mlopsadmin.core.models import AuditEvent

MAX_PAGE_SIZE = 500
EXPORT_CHUNK = 2000
HISTORY_LIMIT = 2000
# Columns an export carries, in order (also the JSON Lines keys): every hashed column, so
# `manage.py verify_audit_export` can verify a file without the database.
EXPORT_FIELDS = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_name",
    "action",
    "target_kind",
    "target_id",
    "team",
    "outcome",
    "reason",
    "request_id",
    "before",
    "after",
    "prev_hash",
    "event_hash",
    "chain_version",
)
FILTER_PARAMS = ("since", "until", "actor", "action", "team", "target_kind", "target_id", "q")


@dataclass(frozen=True)
class AuditFilters:
    """What the page, the export and the API filter on. `action` ending in '.' or '*' is a prefix."""

    since: datetime | None = None
    until: datetime | None = None  # exclusive
    actor: str = ""
    action: str = ""
    team: str = ""
    target_kind: str = ""
    target_id: str = ""
    q: str = ""
    raw: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def action_prefix(self) -> str | None:
        if self.action.endswith("*"):
            return self.action[:-1]
        if self.action.endswith("."):
            return self.action
        return None

    @property
    def active(self) -> bool:
        return any(self.raw.values())


def _parse_moment(name: str, value: str, *, end: bool) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        day = parse_date(value) if len(value) == 10 else None
        moment = None if day else parse_datetime(value)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise InvalidInput(
            f"'{name}' must be a date (2026-11-27) or a date and time (2026-11-27T14:30), not {value[:40]!r}."
        )
    if moment is None:
        assert day is not None  # one of the two parsed (checked above)
        moment = datetime.combine(day, datetime.min.time()) + (timedelta(days=1) if end else timedelta())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def parse_filters(params: Any) -> AuditFilters:
    """Filters from GET parameters (a QueryDict or a dict). Bad input raises InvalidInput (400)."""
    raw = {name: str(params.get(name) or "").strip()[:512] for name in FILTER_PARAMS}
    if any("\x00" in value for value in raw.values()):
        raise InvalidInput("Filters cannot contain NUL characters.")
    since = _parse_moment("since", raw["since"], end=False)
    until = _parse_moment("until", raw["until"], end=True)
    if since and until and since >= until:
        raise InvalidInput("'since' must be before 'until'.")
    return AuditFilters(
        since=since,
        until=until,
        actor=raw["actor"],
        action=raw["action"],
        team=raw["team"],
        target_kind=raw["target_kind"],
        target_id=raw["target_id"],
        q=raw["q"],
        raw=raw,
    )


def parse_cursor(value: Any, name: str = "cursor") -> int | None:
    if value in (None, ""):
        return None
    try:
        cursor = int(str(value))
    except ValueError:
        raise InvalidInput(f"'{name}' must be an event id (a whole number).") from None
    if cursor < 1 or cursor > 2**62:
        raise InvalidInput(f"'{name}' must be a positive event id.")
    return cursor


def audit_events_filtered(filters: AuditFilters) -> QuerySet[AuditEvent]:
    """The filtered events, newest first.

    A time range is also applied as an id range (two lookups in the (occurred_at, id) index):
    events are appended under the chain lock with occurred_at taken inside it, so occurred_at never
    decreases with id, and combined filters ("this actor in March") then stay inside their own index.
    """
    qs = AuditEvent.objects.all()
    if filters.since:
        qs = qs.filter(occurred_at__gte=filters.since)
        first = (
            AuditEvent.objects.filter(occurred_at__gte=filters.since)
            .order_by("occurred_at", "id")
            .values_list("id", flat=True)
            .first()
        )
        qs = qs.filter(id__gte=first) if first is not None else qs.none()
    if filters.until:
        qs = qs.filter(occurred_at__lt=filters.until)
        last = (
            AuditEvent.objects.filter(occurred_at__lt=filters.until)
            .order_by("-occurred_at", "-id")
            .values_list("id", flat=True)
            .first()
        )
        qs = qs.filter(id__lte=last) if last is not None else qs.none()
    if filters.actor:
        qs = qs.filter(actor_name=filters.actor)
    if filters.action:
        prefix = filters.action_prefix
        qs = qs.filter(action__startswith=prefix) if prefix is not None else qs.filter(action=filters.action)
    if filters.team:
        qs = qs.filter(team=filters.team)
    if filters.target_kind:
        qs = qs.filter(target_kind=filters.target_kind)
    if filters.target_id:
        qs = qs.filter(target_id=filters.target_id)
    if filters.q:
        qs = qs.filter(reason__icontains=filters.q)
    return qs.order_by("-id")


@dataclass
class AuditPage:
    events: list[AuditEvent]
    next_cursor: int | None  # pass as `before` for the next (older) page
    prev_cursor: int | None  # pass as `after` for the previous (newer) page
    is_first: bool


def audit_page(
    filters: AuditFilters, *, before: int | None = None, after: int | None = None, size: int = 50
) -> AuditPage:
    """One page newest first. `before`: events older than that id; `after`: the page just newer than it."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    qs = audit_events_filtered(filters)
    if after is not None and before is None:
        newer = list(qs.filter(id__gt=after).order_by("id")[: size + 1])
        has_newer = len(newer) > size
        events = list(reversed(newer[:size]))
        if not events:  # nothing newer: show the first page
            return audit_page(filters, size=size)
        has_older = qs.filter(id__lt=events[-1].id).exists()
        return AuditPage(
            events, events[-1].id if has_older else None, events[0].id if has_newer else None, is_first=not has_newer
        )
    if before is not None:
        qs = qs.filter(id__lt=before)
    rows = list(qs[: size + 1])
    events = rows[:size]
    has_older = len(rows) > size
    is_first = before is None
    prev_cursor = events[0].id if events and not is_first else None
    return AuditPage(events, events[-1].id if has_older and events else None, prev_cursor, is_first)


def iter_filtered_values(filters: AuditFilters, *, chunk: int = EXPORT_CHUNK) -> Iterator[dict[str, Any]]:
    """Every matching event (newest first) as a dict of EXPORT_FIELDS, fetched by keyset in chunks:
    memory stays constant and no long-running transaction or server-side cursor is held."""
    qs = audit_events_filtered(filters).values(*EXPORT_FIELDS)
    last: int | None = None
    while True:
        page = list((qs.filter(id__lt=last) if last is not None else qs)[:chunk])
        yield from page
        if len(page) < chunk:
            return
        last = page[-1]["id"]


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "occurred_at": row["occurred_at"].isoformat(timespec="microseconds")}


def export_jsonl(filters: AuditFilters) -> Iterator[str]:
    for row in iter_filtered_values(filters):
        yield json.dumps(_jsonable(row), sort_keys=False, ensure_ascii=False, default=str) + "\n"


def export_csv(filters: AuditFilters) -> Iterator[str]:
    writer = CsvLines()
    yield writer.line(EXPORT_FIELDS)
    buffer: list[str] = []
    for row in iter_filtered_values(filters):
        values = _jsonable(row)
        buffer.append(
            writer.line(
                [
                    json.dumps(values[name], sort_keys=True, ensure_ascii=False)
                    if name in ("before", "after")
                    else values[name]
                    for name in EXPORT_FIELDS
                ]
            )
        )
        if len(buffer) >= 500:
            yield "".join(buffer)
            buffer = []
    if buffer:
        yield "".join(buffer)


def parse_csv_export(text: str) -> list[dict[str, Any]]:
    """Read an export back (used by tests and handy in scripts)."""
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        row: dict[str, Any] = {key: csv_cell_value(value) for key, value in raw.items()}
        row["id"], row["chain_version"] = int(row["id"]), int(row["chain_version"])
        row["actor_id"] = int(row["actor_id"]) if row["actor_id"] else None
        row["before"], row["after"] = json.loads(row["before"]), json.loads(row["after"])
        rows.append(row)
    return rows


# --- Differences -------------------------------------------------------------------------------
def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested JSON as dotted paths: {"a": {"b": [1, 2]}} → {"a.b.0": 1, "a.b.1": 2}. Empty containers stay."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return out
    if not prefix:
        return {} if value in (None, {}, []) else {"(value)": value}
    return {prefix: value}


@dataclass(frozen=True)
class DiffLine:
    path: str
    change: str  # added, removed, changed, same
    before: Any
    after: Any

    @property
    def before_text(self) -> str:
        return _show(self.before)

    @property
    def after_text(self) -> str:
        return _show(self.after)


def _show(value: Any) -> str:
    """A value as the diff shows it; floats to 6 significant digits (0.8400000000000001 → 0.84: the
    stored record keeps every digit)."""
    if value is _MISSING:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


_MISSING = object()


def state_diff(before: Any, after: Any) -> list[DiffLine]:
    """Added, removed and changed keys first (in path order), unchanged ones last. An empty dict/list
    that is absent on the other side (or became filled: its keys show) makes no line."""
    old, new = flatten(before), flatten(after)
    lines = []
    for path in sorted(set(old) | set(new)):
        if (path not in old and new[path] in ({}, [])) or (path not in new and old[path] in ({}, [])):
            continue  # an empty container on one side only ("tags: removed {}") is no change
        if path not in old:
            lines.append(DiffLine(path, "added", _MISSING, new[path]))
        elif path not in new:
            lines.append(DiffLine(path, "removed", old[path], _MISSING))
        elif old[path] != new[path]:
            lines.append(DiffLine(path, "changed", old[path], new[path]))
        else:
            lines.append(DiffLine(path, "same", old[path], new[path]))
    return sorted(lines, key=lambda line: line.change == "same")


# --- Object histories ---------------------------------------------------------------------------
def action_names() -> list[str]:
    """The Action filter's choices: each family prefix ("approval.", matching every approval action)
    then every action recorded so far, sorted. One DISTINCT query over the audit table."""
    names = sorted(AuditEvent.objects.order_by().values_list("action", flat=True).distinct())
    prefixes = sorted({name.split(".", 1)[0] + "." for name in names if "." in name})
    return prefixes + names


HISTORY_KINDS = ("model_version", "model", "experiment", "run", "checklist", "task", "team", "user")


def _mentions_version(event: AuditEvent, version: str) -> bool:
    """Does a key whose name contains 'version' (or a list under one) hold this version number?"""
    for state in (event.before, event.after):
        for path, value in flatten(state).items():
            names = [part for part in path.split(".") if not part.isdigit()]
            if names and "version" in names[-1].lower() and str(value) == version:
                return True
    return False


def _with_experiment(side: str, experiment_id: str) -> QuerySet[AuditEvent]:
    """Events whose `side` state has this "experiment_id" (string or number in the JSON)."""
    if connection.vendor == "postgresql":  # matches the expression index of migration 0003
        return AuditEvent.objects.alias(exp=KT(f"{side}__experiment_id")).filter(exp=experiment_id)
    match = Q(**{f"{side}__experiment_id": experiment_id})
    if experiment_id.isdigit():
        match |= Q(**{f"{side}__experiment_id": int(experiment_id)})
    return AuditEvent.objects.filter(match)


def object_history(kind: str, target_id: str) -> list[AuditEvent]:
    """The life of one object, oldest first.

    model_version "<model>/<version>": its own events plus model-level events whose before/after
    names that version (a key containing 'version' with that value, e.g. alias moves).
    experiment "<id>": its own events plus events about runs that carry "experiment_id" in `after`
    (the convention for run events) or in `before`.
    """
    own = Q(target_kind=kind, target_id=target_id)
    events = list(AuditEvent.objects.filter(own).order_by("-id")[:HISTORY_LIMIT])
    if kind == "model_version" and "/" in target_id:
        model, version = target_id.rsplit("/", 1)
        model_events = AuditEvent.objects.filter(target_kind="model", target_id=model).order_by("-id")
        events += [e for e in model_events[:HISTORY_LIMIT] if _mentions_version(e, version)]
    elif kind == "experiment":
        for side in ("after", "before"):
            related = _with_experiment(side, target_id).exclude(own).order_by("-id")[:HISTORY_LIMIT]
            events += list(related)
    unique = {e.id: e for e in events}
    return sorted(unique.values(), key=lambda e: e.id)[-HISTORY_LIMIT:]
