"""Approval workflow pages: request, withdraw, decide (approve/reject) and the ML lead's inbox. Thin: each
write is one call of `registry_ui/approvals/services.py`, which checks permissions itself."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from mlopsadmin import policy
from mlopsadmin.core.errors import NotFound
from mlopsadmin.core.htmx import redirect_after_post
from registry_ui.approvals import selectors, services
from registry_ui.models import ApprovalRequest


@require_POST
def approval_create(request: HttpRequest, name: str, version: str) -> HttpResponse:
    req = services.approval_request_create(
        actor=request.user, model_name=name, version=version, comment=request.POST.get("comment", "")
    )
    messages.success(request, f"Approval requested for {req.target_id}; the team's ML leads were notified.")
    return redirect_after_post(request, reverse("registry:version", args=[name, version]))


@require_POST
def approval_withdraw(request: HttpRequest, request_id: int) -> HttpResponse:
    req = services.approval_request_withdraw(
        actor=request.user, request_id=request_id, comment=request.POST.get("comment", "")
    )
    messages.success(request, f"Request #{req.pk} for {req.target_id} withdrawn.")
    return redirect_after_post(request, _page_of(req))


def _page_of(req: ApprovalRequest) -> str:
    return selectors.approval_page(req)


@require_POST
def approval_decide(request: HttpRequest, request_id: int) -> HttpResponse:
    pending = selectors.approval_get(request_id=request_id)
    if pending is None:
        raise NotFound(f"No approval request #{request_id}.")
    policy.require(request.user, policy.Action.APPROVAL_DECIDE, team=services.approval_team(pending.model_name))
    decision = request.POST.get("decision", "")
    if decision not in ("approve", "reject"):
        messages.error(request, "Choose approve or reject.")
        return redirect_after_post(request, reverse("registry:inbox"))
    req = services.approval_request_decide(
        actor=request.user,
        request_id=request_id,
        approve=decision == "approve",
        comment=request.POST.get("comment", ""),
    )
    extra = " approved_by and approval_date were written to MLflow." if decision == "approve" else ""
    messages.success(request, f"{req.target_id} {req.state} (request #{req.pk}).{extra}")
    return redirect_after_post(
        request,
        request.POST.get("next") == "inbox" and reverse("registry:inbox") or _page_of(req),
    )


@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    requests = selectors.inbox_for(request.user)
    return render(
        request,
        "registry_ui/inbox.html",
        {
            "title": "Approval inbox",
            "nav_key": "registry",
            "requests": requests,
            "is_lead": policy.has_role(request.user, policy.ROLE_ML_LEAD) or policy.is_admin(request.user),
            "recent": selectors.approvals_list(limit=20),
        },
    )
