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
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.fields.json import KT
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from mlopsadmin.audit.diff import flatten
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
    "operation_id",
)
FILTER_PARAMS = ("since", "until", "actor", "action", "team", "target_kind", "target_id", "q", "operation", "story")


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
    operation: int | None = None  # one operation: its first event and its items
    story: str = ""  # a model's story across environments (registry_ui/environments/history.py)
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
    operation = parse_cursor(raw["operation"], "operation")
    return AuditFilters(
        since=since,
        until=until,
        actor=raw["actor"],
        action=raw["action"],
        team=raw["team"],
        target_kind=raw["target_kind"],
        target_id=raw["target_id"],
        q=raw["q"],
        operation=operation,
        story=raw["story"],
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


def _filter_q(filters: AuditFilters) -> Q:
    """The filters as one condition (usable on the events and, for grouping, on their operation's first
    event). A time range is also applied as an id range (two lookups in the (occurred_at, id) index):
    events are appended under the chain lock with occurred_at taken inside it, so occurred_at never
    decreases with id, and combined filters ("this actor in March") then stay inside their own index."""
    q = Q()
    if filters.since:
        first = (
            AuditEvent.objects.filter(occurred_at__gte=filters.since)
            .order_by("occurred_at", "id")
            .values_list("id", flat=True)
            .first()
        )
        q &= Q(occurred_at__gte=filters.since, id__gte=first) if first is not None else Q(pk__in=[])
    if filters.until:
        last = (
            AuditEvent.objects.filter(occurred_at__lt=filters.until)
            .order_by("-occurred_at", "-id")
            .values_list("id", flat=True)
            .first()
        )
        q &= Q(occurred_at__lt=filters.until, id__lte=last) if last is not None else Q(pk__in=[])
    if filters.actor:
        q &= Q(actor_name=filters.actor)
    if filters.action:
        prefix = filters.action_prefix
        q &= Q(action__startswith=prefix) if prefix is not None else Q(action=filters.action)
    for name in ("team", "target_kind", "target_id"):
        if getattr(filters, name):
            q &= Q(**{name: getattr(filters, name)})
    if filters.q:
        q &= Q(reason__icontains=filters.q)
    if filters.operation is not None:
        q &= Q(pk=filters.operation) | Q(operation_id=filters.operation)
    if filters.story:
        from registry_ui.environments.history import story_condition  # the environments it spans

        q &= story_condition(filters.story)
    return q


def audit_events_filtered(filters: AuditFilters, *, grouped: bool = False) -> QuerySet[AuditEvent]:
    """The filtered events, newest first. `grouped` (the audit page): an operation's items are left out
    when its first event is listed too (it carries them, folded); items whose operation does not match
    the filters are listed one by one. The view of one operation (`operation` filter) is never grouped."""
    q = _filter_q(filters)
    qs = AuditEvent.objects.filter(q)
    if grouped and filters.operation is None:
        if filters.active:
            # NOT EXISTS alone (no "operation_id IS NULL OR"): PostgreSQL then runs a nested-loop anti join,
            # one primary-key probe per candidate row; with the OR it hashed every event matching the
            # filters first (0.5 s at 1M events). A NULL operation_id never finds a row, so it stays listed.
            qs = qs.filter(~Exists(AuditEvent.objects.filter(q, pk=OuterRef("operation_id"))))
        else:  # every first event is listed: only the top rows (partial index audit_top_idx)
            qs = qs.filter(operation_id__isnull=True)
    return qs.order_by("-id")


@dataclass
class AuditPage:
    events: list[AuditEvent]
    next_cursor: int | None  # pass as `before` for the next (older) page
    prev_cursor: int | None  # pass as `after` for the previous (newer) page
    is_first: bool


def audit_page(
    filters: AuditFilters,
    *,
    before: int | None = None,
    after: int | None = None,
    size: int = 50,
    grouped: bool = False,
) -> AuditPage:
    """One page newest first. `before`: events older than that id; `after`: the page just newer than it.
    `grouped`: one row per operation (see audit_events_filtered)."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    qs = audit_events_filtered(filters, grouped=grouped)
    if after is not None and before is None:
        newer = list(qs.filter(id__gt=after).order_by("id")[: size + 1])
        has_newer = len(newer) > size
        events = list(reversed(newer[:size]))
        if not events:  # nothing newer: show the first page
            return audit_page(filters, size=size, grouped=grouped)
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
        operation = row.get("operation_id")  # absent from exports written before operations existed
        row["operation_id"] = int(operation) if operation else None
        row["before"], row["after"] = json.loads(row["before"]), json.loads(row["after"])
        rows.append(row)
    return rows


# --- Object histories ---------------------------------------------------------------------------
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
    """The latest HISTORY_LIMIT events of one object's life, oldest first (object_history_counted)."""
    return object_history_counted(kind, target_id)[0]


def object_history_counted(kind: str, target_id: str) -> tuple[list[AuditEvent], int]:
    """The life of one object, oldest first: (the latest HISTORY_LIMIT events, how many there are in all),
    so a page shows "the latest N of M".

    model_version "<model>/<version>": its own events plus model-level events whose before/after
    names that version (a key containing 'version' with that value, e.g. alias moves); every model-level
    event is looked at, not only the latest HISTORY_LIMIT (an old mention behind many newer alias moves was
    silently left out).
    experiment "<id>": its own events plus events about runs that carry "experiment_id" in `after`
    (the convention for run events) or in `before`.
    """
    own = Q(target_kind=kind, target_id=target_id)
    mine = AuditEvent.objects.filter(own)
    events = list(mine.order_by("-id")[:HISTORY_LIMIT])
    total = len(events) if len(events) < HISTORY_LIMIT else mine.count()
    if kind == "model_version" and "/" in target_id:
        model, version = target_id.rsplit("/", 1)
        model_events = AuditEvent.objects.filter(target_kind="model", target_id=model).order_by("-id")
        mentions = 0
        for event in model_events.iterator(chunk_size=1000):
            if _mentions_version(event, version):
                mentions += 1
                if mentions <= HISTORY_LIMIT:
                    events.append(event)
        total += mentions
    elif kind == "experiment":
        either = Q(pk__in=_with_experiment("after", target_id).values("pk")) | Q(
            pk__in=_with_experiment("before", target_id).values("pk")
        )
        related = AuditEvent.objects.filter(either).exclude(own)
        latest = list(related.order_by("-id")[:HISTORY_LIMIT])
        events += latest
        total += len(latest) if len(latest) < HISTORY_LIMIT else related.count()
    unique = {e.id: e for e in events}
    return sorted(unique.values(), key=lambda e: e.id)[-HISTORY_LIMIT:], total


def audit_targets(action: str, kind: str, target_ids: list[str]) -> set[str]:
    """Which of `target_ids` (of `kind`) have at least one `action` event: e.g. the runs that already have
    their `run.purge` event (a purge taken up again records only the missing ones)."""
    if not target_ids:
        return set()
    events = AuditEvent.objects.filter(action=action, target_kind=kind, target_id__in=target_ids)
    return set(events.values_list("target_id", flat=True))
