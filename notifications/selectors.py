"""Reads of the notifications app: who gets an event, the delivery log, unresolved failures."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from mlopsadmin import policy
from mlopsadmin.core.models import Team
from notifications.models import DeliveryState, ModelWatch, Notification

User = get_user_model()


def _active_emails(users: QuerySet) -> set[str]:
    return set(users.filter(is_active=True).exclude(email="").values_list("email", flat=True))


def team_lead_emails(team: Team | None) -> list[str]:
    """Email addresses of the active ML leads who are members of `team` (none for no team)."""
    if team is None:
        return []
    return sorted(_active_emails(User.objects.filter(memberships__team=team, groups__name=policy.ROLE_ML_LEAD)))


def person_email(user: Any) -> str:
    """The address to tell one person by (a requester, whoever asked for a change): "" for nobody, a
    deactivated account (someone who left: deactivating is how access is taken away) or no address. Groups
    of people (leads, operators, watchers) are filtered the same way by `_active_emails`."""
    if user is None or not getattr(user, "is_active", False):
        return ""
    return str(getattr(user, "email", "") or "").strip()


def operator_emails() -> list[str]:
    return sorted(_active_emails(User.objects.filter(groups__name=policy.ROLE_OPERATOR)))


def watcher_emails(model_name: str) -> list[str]:
    return sorted(_active_emails(User.objects.filter(model_watches__model_name=model_name)))


def is_watching(user: Any, model_name: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return ModelWatch.objects.filter(user=user, model_name=model_name).exists()


def delivery_log(*, state: str = "", channel: str = "", event: str = "") -> QuerySet[Notification]:
    """Newest first; filters are ignored when empty. `state` one of DeliveryState."""
    queryset = Notification.objects.all()
    if state:
        queryset = queryset.filter(state=state)
    if channel:
        queryset = queryset.filter(channel=channel)
    if event:
        queryset = queryset.filter(event=event)
    return queryset


def with_recipients_shown(rows: Iterable[Notification]) -> list[tuple[Notification, str]]:
    """(row, recipient as it may be shown) for the delivery log: a webhook as its host only. Each distinct
    recipient is described once (a webhook's description reads it), not once per row."""
    from notifications.channels import CHANNELS  # channels imports this app's models and the configuration

    shown: dict[tuple[str, str], str] = {}
    result = []
    for row in rows:
        key = (row.channel, row.recipient)
        if key not in shown:
            channel = CHANNELS.get(row.channel)
            shown[key] = channel.describe(row.recipient) if channel else row.recipient
        result.append((row, shown[key]))
    return result


def failed_count() -> int:
    """Notifications given up after their retries and not re-sent since."""
    return Notification.objects.filter(state=DeliveryState.FAILED).count()
