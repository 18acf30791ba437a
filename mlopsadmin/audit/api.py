"""GET /api/v1/audit-events: the audit log with the page's filters and keyset (cursor) pagination."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from mlopsadmin import policy
from mlopsadmin.audit import selectors as sel

router = Router(tags=["audit"])


class AuditEventOut(Schema):
    id: int
    occurred_at: datetime
    actor_name: str
    action: str
    target_kind: str
    target_id: str
    team: str
    outcome: str
    reason: str
    request_id: str
    before: Any = None
    after: Any = None
    event_hash: str
    prev_hash: str
    operation_id: int | None = Field(
        None, description="The first event of the operation this event is an item of (null: none, or it is the first)"
    )


class AuditEventPage(Schema):
    items: list[AuditEventOut]
    next_cursor: int | None = Field(
        None, description="Pass as `cursor` to get the next (older) page; null on the last page."
    )


class AuditQuery(Schema):
    since: str = Field("", description="ISO date or date-time (inclusive)", max_length=64)
    until: str = Field(
        "", description="ISO date or date-time (exclusive; a bare date includes that day)", max_length=64
    )
    actor: str = Field("", max_length=150)
    action: str = Field("", description="Exact action, or a prefix ending in '.' or '*' (approval.)", max_length=64)
    team: str = Field("", max_length=64)
    target_kind: str = Field("", max_length=32)
    target_id: str = Field("", max_length=512)
    q: str = Field("", description="Text contained in the reason (case-insensitive)", max_length=200)
    operation: int | None = Field(
        None, ge=1, le=2**62, description="One operation: its first event (this id) and every item of it"
    )
    cursor: int | None = Field(None, ge=1, le=2**62, description="Events older than this id")
    limit: int = Field(50, ge=1, le=sel.MAX_PAGE_SIZE)


@router.get("/audit-events", response=AuditEventPage, summary="Audit events, newest first, filtered")
def audit_events(request: HttpRequest, query: Query[AuditQuery]) -> dict[str, Any]:
    policy.require(request.user, policy.Action.AUDIT_VIEW)
    filters = sel.parse_filters(query.dict())
    page = sel.audit_page(filters, before=query.cursor, size=query.limit or settings.AUDIT_PAGE_SIZE)
    return {"items": page.events, "next_cursor": page.next_cursor}
