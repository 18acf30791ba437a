"""The rows of the audit table: one per operation or single event, each with its summary line, and an
operation's items folded under its row (the first FOLD_ITEMS of them; the rest one click away)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any
from urllib.parse import quote

from django.db.models import Count
from django.urls import reverse

from mlopsadmin.audit.summaries import event_summary, operation_summary
from mlopsadmin.core.models import AuditEvent

OUTCOME_PILL = {"ok": "pill-ok", "partial": "pill-warning"}
FOLD_ITEMS = 100  # items listed under an operation's row; its own view (?operation=<id>) lists them all


@dataclass(frozen=True)
class EventRow:
    """One line of the audit table, formatted once in Python (a 50-row page renders in a few ms)."""

    id: int
    url: str
    when: str
    actor: str
    action: str
    target: str
    history_url: str | None
    team: str
    outcome: str
    pill: str
    reason: str
    summary: str
    operation_id: int | None = None  # an item listed on its own: the operation it belongs to
    fold: Fold | None = None


@dataclass(frozen=True)
class Fold:
    """An operation's items under its first event's row: the count line and the first FOLD_ITEMS."""

    summary: str
    total: int
    items: list[EventRow] = field(default_factory=list)

    @property
    def more(self) -> int:
        return self.total - len(self.items)


def _prefixes() -> tuple[str, str]:
    return (
        reverse("audit:event", args=[1]).removesuffix("1/"),
        reverse("audit:history", args=["k", "t"]).removesuffix("k/t/"),
    )


def _row(e: Any, prefixes: tuple[str, str], fold: Fold | None = None) -> EventRow:
    event_prefix, history_prefix = prefixes
    linkable = bool(e.target_kind and e.target_id and "/" not in e.target_kind)
    reason = e.reason if len(e.reason) <= 80 else e.reason[:79] + "…"
    return EventRow(
        id=e.id,
        url=f"{event_prefix}{e.id}/",
        when=e.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        actor=e.actor_name,
        action=e.action,
        target=f"{e.target_kind}:{e.target_id}",
        history_url=f"{history_prefix}{quote(e.target_kind, safe='')}/{quote(e.target_id, safe='/')}/"
        if linkable
        else None,
        team=e.team,
        outcome=e.outcome,
        pill=OUTCOME_PILL.get(e.outcome, "pill-critical"),
        reason=reason,
        summary=event_summary(e),
        operation_id=e.operation_id,
        fold=fold,
    )


def operation_folds(heads: list[Any]) -> dict[int, Fold]:
    """{first event id: its fold} for the events of `heads` that started an operation with items: one
    count query over the operation index, then the first FOLD_ITEMS items of each such operation."""
    ids = [e.id for e in heads if e.operation_id is None]
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    rows = AuditEvent.objects.filter(operation_id__in=ids).order_by().values_list("operation_id", "action")
    for operation_id, action, count in rows.annotate(n=Count("id")):
        counts[operation_id][action] = count
    prefixes = _prefixes()
    folds = {}
    for head in heads:
        if head.id not in counts:
            continue
        items = AuditEvent.objects.filter(operation_id=head.id).order_by("id")[:FOLD_ITEMS]
        folds[head.id] = Fold(
            summary=operation_summary(head, counts[head.id]),
            total=sum(counts[head.id].values()),
            items=[_row(item, prefixes) for item in items],
        )
    return folds


def event_rows(events: list[Any], *, folded: bool = False) -> list[EventRow]:
    """Table rows of `events` (newest first); `folded`: each operation's items under its row."""
    prefixes = _prefixes()
    folds = operation_folds(events) if folded else {}
    return [_row(e, prefixes, folds.get(e.id)) for e in events]
