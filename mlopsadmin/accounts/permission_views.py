"""The MLflow permission drift page (admins): who can change models outside mlopsadmin, what applying
would change, and the one audited apply action."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from mlopsadmin import policy
from mlopsadmin.accounts.mlflow_permissions import apply_plan, build_plan
from mlopsadmin.core.htmx import redirect_after_post


@require_GET
def drift(request: HttpRequest) -> HttpResponse:
    policy.require(request.user, policy.Action.MLFLOW_PERMISSIONS)
    plan = build_plan()  # MLflow down or refusing: the DomainErrorMiddleware answers with a clear 503/502 page
    return render(request, "accounts/mlflow_permissions.html", {"plan": plan, "nav_key": ""})


@require_POST
def apply(request: HttpRequest) -> HttpResponse:
    policy.require(request.user, policy.Action.MLFLOW_PERMISSIONS)
    result = apply_plan(
        actor=request.user,
        create_users=request.POST.get("create_users") == "on",
        expected_fingerprint=request.POST.get("fingerprint", ""),
    )
    text = f"Applied {len(result.applied)} change(s); created {len(result.created_users)} MLflow user(s)."
    if result.failed:
        messages.error(request, f"{text} {len(result.failed)} change(s) failed: {result.failed[0][1]}")
    elif result.remaining.in_step:
        messages.success(request, f"{text} MLflow's permissions are in step.")
    else:
        messages.warning(request, f"{text} Some drift remains (see below).")
    return redirect_after_post(request, reverse("mlflow_permissions"))
