"""The home page's "your recent actions" section (mlopsadmin.core.dashboard): the user's own latest audit
events. Each links to its audit event page for those who may read the audit log, else to the page of
what it changed (in mlopsadmin or the MLflow UI)."""

from __future__ import annotations

from datetime import UTC
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from mlopsadmin import policy
from mlopsadmin.audit.links import target_links
from mlopsadmin.audit.summaries import event_summary
from mlopsadmin.core.dashboard import MY_ITEMS, MyItem, MySection
from mlopsadmin.core.models import AuditEvent


def my_recent_actions(user: Any) -> list[MySection]:
    """The latest MY_ITEMS events whose actor is `user` (a signed-in User), newest first."""
    events = list(AuditEvent.objects.filter(actor_id=user.pk).order_by("-id")[:MY_ITEMS])
    reads_audit = policy.can(user, policy.Action.AUDIT_VIEW)
    items = []
    for event in events:
        links = target_links(event)
        url = reverse("audit:event", args=[event.pk]) if reads_audit else links.app_url or links.mlflow_url or ""
        when = event.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        items.append(
            MyItem(
                text=event_summary(event),  # the audit page's summary line ("approval requested for m v3")
                url=url,
                detail=f"{event.action} · {when}" + ("" if event.outcome == "ok" else f" · {event.outcome}"),
                level="" if event.outcome == "ok" else "warning",
            )
        )
    return [
        MySection(
            key="my-actions",
            title="Your recent actions",
            items=items,
            count=len(items),
            empty="You have not changed anything yet.",
            more_url=f"{reverse('audit:index')}?{urlencode({'actor': user.get_username()})}" if reads_audit else "",
            more_label="your actions in the audit log",
            order=50,
        )
    ]
