"""Pages of the notifications app: the delivery log (admins and operators) with re-send, and the watch
button of a model page. Thin: one policy check, one service call."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from mlopsadmin import policy
from mlopsadmin.core.htmx import redirect_after_post
from notifications import selectors, services
from notifications.channels import CHANNELS
from notifications.models import DeliveryState

PAGE_SIZE = 50


@require_GET
def delivery_log(request: HttpRequest) -> HttpResponse:
    policy.require(request.user, policy.Action.NOTIFICATION_LOG_VIEW)
    state = request.GET.get("state", "")
    state = state if state in DeliveryState.values else ""
    channel = request.GET.get("channel", "")
    channel = channel if channel in CHANNELS else ""
    page = Paginator(selectors.delivery_log(state=state, channel=channel), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = selectors.with_recipients_shown(page)
    context = {
        "title": "Notification deliveries",
        "nav_key": "home",
        "page": page,
        "rows": rows,
        "state": state,
        "channel": channel,
        "states": DeliveryState.choices,
        "channels": sorted(CHANNELS),
        "failed": selectors.failed_count(),
        "may_resend": policy.can(request.user, policy.Action.NOTIFICATION_RESEND),
    }
    return render(request, "notifications/log.html", context)


@require_POST
def resend(request: HttpRequest, notification_id: int) -> HttpResponse:
    row = services.notification_resend(actor=request.user, notification_id=notification_id)
    messages.success(request, f"Notification #{row.pk} queued again ({row.channel}).")
    return redirect_after_post(request, reverse("notifications:log") + "?state=failed")


@require_POST
def watch(request: HttpRequest, name: str) -> HttpResponse:
    watching = services.model_watch_set(actor=request.user, model_name=name, watch=request.POST.get("watch") == "on")
    messages.success(request, f"You {'now watch' if watching else 'no longer watch'} {name}.")
    return redirect_after_post(request, reverse("registry:model", args=[name]))
