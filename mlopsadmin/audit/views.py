"""Audit pages: the filtered log, one event, object histories, exports and chain verification.

All read-only (GET). Filters live in the query string, so every view is a shareable URL and the
export links carry exactly the filters of the page they sit on.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from mlopsadmin import policy
from mlopsadmin.audit import selectors as sel
from mlopsadmin.audit.actions import action_choices
from mlopsadmin.audit.diff import state_diff
from mlopsadmin.audit.links import target_links
from mlopsadmin.audit.rows import event_rows, operation_folds
from mlopsadmin.audit.services import audit_verify_chain
from mlopsadmin.audit.summaries import event_summary, gate_rules
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.core.htmx import HtmxHttpRequest, swaps
from mlopsadmin.core.models import AuditEvent, Team


def _filter_query(filters: sel.AuditFilters, **extra: object) -> str:
    params: dict[str, Any] = {k: v for k, v in filters.raw.items() if v}
    params.update({k: v for k, v in extra.items() if v not in (None, "")})
    return urlencode(params)


DATE_PRESETS = (("Today", None), ("7 days", timedelta(days=7)), ("30 days", timedelta(days=30)))


def _date_presets(filters: sel.AuditFilters) -> list[tuple[str, str, bool]]:
    """(label, query, chosen) links that set 'since' (local time of the page, minutes): today's midnight,
    or that long ago; they keep the other filters and 'until', and drop the page cursor. "Any time" clears
    'since'. `chosen`: the preset the page shows now."""
    now = timezone.localtime()
    presets = []
    for label, age in DATE_PRESETS:
        start = now.replace(hour=0, minute=0, second=0, microsecond=0) if age is None else now - age
        since = start.strftime("%Y-%m-%dT%H:%M")
        chosen = filters.since is not None and abs((filters.since - start).total_seconds()) < 120
        presets.append((label, _filter_query(filters, since=since), chosen))
    presets.append(("Any time", _filter_query(sel.parse_filters({**filters.raw, "since": ""})), not filters.since))
    return presets


@require_GET
def audit_list(request: HtmxHttpRequest) -> HttpResponse:
    policy.require(request.user, policy.Action.AUDIT_VIEW)
    filters = sel.parse_filters(request.GET)
    before = sel.parse_cursor(request.GET.get("before"), "before")
    after = sel.parse_cursor(request.GET.get("after"), "after")
    page = sel.audit_page(filters, before=before, after=after, size=settings.AUDIT_PAGE_SIZE, grouped=True)
    context = {
        "page": page,
        "rows": event_rows(page.events, folded=filters.operation is None),
        "filters": filters,
        "nav_key": "audit",
        "query": _filter_query(filters),
        "older_query": _filter_query(filters, before=page.next_cursor) if page.next_cursor else "",
        "newer_query": _filter_query(filters, after=page.prev_cursor) if page.prev_cursor else "",
        "teams": Team.objects.values_list("name", flat=True),
        "kinds": sel.HISTORY_KINDS,
        "actions": action_choices(filters.action),
        "presets": _date_presets(filters),
        "may_verify": policy.can(request.user, policy.Action.AUDIT_VERIFY),
    }
    fragment = swaps(request, "audit-results")
    template = "audit/list.html#results" if fragment else "audit/list.html"
    response = render(request, template, context)
    if fragment:  # the address bar shows only the filters in use (and the cursor), not every empty field
        cursor = {"before": before} if before else {"after": after} if after else {}
        query = _filter_query(filters, **cursor)
        response["HX-Push-Url"] = request.path + (f"?{query}" if query else "")
    return response


@require_GET
def audit_event(request: HttpRequest, event_id: int) -> HttpResponse:
    policy.require(request.user, policy.Action.AUDIT_VIEW)
    event = get_object_or_404(AuditEvent, pk=event_id)
    diff = state_diff(event.before, event.after)
    head = AuditEvent.objects.filter(pk=event.operation_id).first() if event.operation_id else None
    return render(
        request,
        "audit/event.html",
        {
            "event": event,
            "summary": event_summary(event),
            "gate": gate_rules(event.after),
            "head": head,  # the operation this event is an item of
            "fold": operation_folds([event]).get(event.id),  # the items of the operation it started
            "diff": diff,
            "links": target_links(event),
            "nav_key": "audit",
            "changed": sum(1 for line in diff if line.change != "same"),
        },
    )


@require_GET
def audit_history(request: HttpRequest, kind: str, target_id: str) -> HttpResponse:
    policy.require(request.user, policy.Action.AUDIT_VIEW)
    if len(kind) > 32 or len(target_id) > 512 or "\x00" in kind + target_id:
        raise InvalidInput("Not a valid target kind and id.")
    events, total = sel.object_history_counted(kind, target_id)
    first = events[0] if events else AuditEvent(target_kind=kind, target_id=target_id)
    return render(
        request,
        "audit/history.html",
        {
            "kind": kind,
            "target_id": target_id,
            "events": events,
            "links": target_links(first),
            "total": total,
            "truncated": total > len(events),
            "nav_key": "audit",
            "rows": [(e, event_summary(e), state_diff(e.before, e.after)) for e in events],
        },
    )


def _export(request: HttpRequest, fmt: str) -> StreamingHttpResponse:
    policy.require(request.user, policy.Action.AUDIT_VIEW)
    filters = sel.parse_filters(request.GET)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    if fmt == "csv":
        response = StreamingHttpResponse(sel.export_csv(filters), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(sel.export_jsonl(filters), content_type="application/x-ndjson")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{"csv" if fmt == "csv" else "jsonl"}"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def audit_export_csv(request: HttpRequest) -> StreamingHttpResponse:
    return _export(request, "csv")


@require_GET
def audit_export_jsonl(request: HttpRequest) -> StreamingHttpResponse:
    return _export(request, "jsonl")


@require_GET
def audit_verify(request: HttpRequest) -> HttpResponse:
    """Verification reads only; it runs on GET ?run=1 so a bookmark or a monitor can trigger it."""
    policy.require(request.user, policy.Action.AUDIT_VERIFY)
    report = None
    if request.GET.get("run"):
        started = timezone.now()
        report = audit_verify_chain()
        elapsed = (timezone.now() - started).total_seconds()
    else:
        elapsed = None
    broken = (
        AuditEvent.objects.filter(pk=report.first_break_id).first()
        if report and not report.ok and report.first_break_id is not None
        else None
    )
    return render(
        request,
        "audit/verify.html",
        {
            "report": report,
            "elapsed": elapsed,
            "broken": broken,
            "nav_key": "audit",
            "total": AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0,
        },
    )
