"""Pages of the promotion feature: the aliases page (actions, flags, history), the confirmation
dialog, the change POST, the gate-policy form and the MLflow webhook receiver. Thin: the services do
the work and raise domain errors that the middleware renders."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from mlopsadmin import policy
from mlopsadmin.core.errors import Conflict, InvalidInput, RuleViolation
from mlopsadmin.core.htmx import HtmxHttpRequest
from mlopsadmin.core.selectors import team_for_model
from mlopsadmin.policy import Action
from registry_ui import validation
from registry_ui.index_store import index_refresh_after_webhook
from registry_ui.promotion import gate_reads, plans, selectors, services, webhooks

logger = logging.getLogger(__name__)


def _page_context(request: HttpRequest, name: str) -> dict[str, object]:
    overview = selectors.alias_overview(name)
    return {
        "title": f"Aliases of {name}",
        "nav_key": "registry",
        "overview": overview,
        "model": overview.model,
        "versions": overview.versions,
        "history": selectors.alias_history(name),
        "gate_config": gate_reads.gate_config_for(name),
        "gate_policy": gate_reads.gate_policy_row(name),
        "state_token": plans.state_token(overview.aliases),
        "as_of": timezone.now(),
        "team": team_for_model(name),
        **selectors.promotion_panel(request.user, name, overview.aliases, [v.version for v in overview.versions]),
    }


@require_GET
def aliases_page(request: HtmxHttpRequest, name: str) -> HttpResponse:
    context = _page_context(request, name)
    template = (
        "promotion/aliases.html#history"
        if request.htmx and request.GET.get("part") == "history"
        else "promotion/aliases.html"
    )
    return render(request, template, context)


_ACTION_PERMISSION = {
    "challenger": Action.ALIAS_CHALLENGER,
    "promote": Action.ALIAS_PROTECTED,
    "rollback": Action.ALIAS_PROTECTED,
    "repair": Action.ALIAS_PROTECTED,
}


@require_GET
def alias_confirm(request: HtmxHttpRequest, name: str, action: str) -> HttpResponse:
    if action not in plans.ACTIONS:
        raise InvalidInput(f"Unknown alias action {action[:40]!r}.")
    given = (request.GET.get("version") or "").strip()
    version = validation.model_version(given) if given else None
    permissions = selectors.alias_permissions(request.user, name)
    allowed = permissions["can_challenger" if action == "challenger" else "can_protected"]
    preview = selectors.alias_change_preview(model_name=name, action=action, version=version)
    context = {
        "title": f"Confirm: {action} ({name})",
        "nav_key": "registry",
        "model_name": name,
        "preview": preview,
        "version": version or "",
        # refused before the confirm button, not after it
        "denied": "" if allowed else policy.denial_message(_ACTION_PERMISSION[action], team_for_model(name)),
        **permissions,
    }
    template = "promotion/confirm.html#dialog" if request.htmx else "promotion/confirm.html"
    return render(request, template, context)


@require_POST
def alias_change_view(request: HtmxHttpRequest, name: str, action: str) -> HttpResponse:
    expected = request.POST.get("expected")
    try:
        result = services.alias_change(
            action=action,
            model_name=name,
            actor=request.user,
            version=request.POST.get("version") or None,
            reason=request.POST.get("reason", ""),
            override_reason=request.POST.get("override_reason", ""),
            expected=plans.parse_state_token(expected) if expected is not None else None,
        )
    except (Conflict, RuleViolation, services.PartialChange) as exc:
        # Refused or partly applied: show the aliases page as it is now, with the reason, and the status.
        context = {**_page_context(request, name), "error": str(exc), "error_title": exc.title}
        response = render(request, "promotion/aliases.html", context, status=exc.status)
        if request.htmx:  # the page shown is the aliases page: its address, not the POST-only change URL
            response["HX-Push-Url"] = reverse("promotion:aliases", args=[name])
        return response
    text = f"{action.capitalize()} done for {name}: " + "; ".join(result.applied)
    if result.overridden:
        text += " (gate failed; overridden by an admin, audited)"
    messages.success(request, text)
    url = reverse("promotion:aliases", args=[name])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _float(request: HttpRequest, key: str) -> float:
    try:
        return float(request.POST.get(key, ""))
    except ValueError as exc:
        raise InvalidInput(f"{key} must be a number.") from exc


@require_POST
def gate_policy_view(request: HttpRequest, name: str) -> HttpResponse:
    policy.require(request.user, Action.MODEL_SETTINGS_EDIT, team=team_for_model(name))  # before reading input
    services.gate_policy_update(
        model_name=name,
        actor=request.user,
        metric=request.POST.get("metric", ""),
        threshold=_float(request, "threshold"),
        max_drop_pct=_float(request, "max_drop_pct"),
        require_approval=request.POST.get("require_approval") == "on",
        direction=request.POST.get("direction", ""),
        count_imported_approvals=request.POST.get("count_imported_approvals") == "on",
    )
    messages.success(request, f"Gate policy of {name} saved.")
    return redirect(reverse("promotion:aliases", args=[name]))


@csrf_exempt
@login_not_required
@require_POST
def mlflow_webhook(request: HttpRequest) -> JsonResponse:
    """MLflow registry webhook: a hint that the model changed (aliases, versions, version tags): reconcile
    its aliases and read it into the registry index again."""
    from django.conf import settings

    try:
        payload = webhooks.verify(
            secret=settings.MLFLOW_WEBHOOK_SECRET,
            signature=request.headers.get(webhooks.SIGNATURE_HEADER, ""),
            timestamp=request.headers.get(webhooks.TIMESTAMP_HEADER, ""),
            delivery_id=request.headers.get(webhooks.DELIVERY_HEADER, ""),
            body=request.body,
        )
    except webhooks.BadSignature as exc:
        logger.warning("MLflow webhook refused: %s", exc)
        return JsonResponse({"detail": f"Refused: {exc}"}, status=403)
    delivery_id = request.headers.get(webhooks.DELIVERY_HEADER, "")
    if webhooks.already_handled(delivery_id):
        return JsonResponse({"detail": "Already received: this delivery was handled; nothing done."}, status=200)
    response = _webhook_handle(payload)
    webhooks.remember_handled(delivery_id)
    return response


def _webhook_handle(payload: dict[str, object]) -> JsonResponse:
    model_name = webhooks.model_name_of(payload)
    if model_name is None:
        return JsonResponse({"detail": "No model in the payload; nothing to reconcile."}, status=202)
    try:
        report = services.alias_reconcile_reported(model_name=model_name, hint=webhooks.alias_hint(payload))
    except InvalidInput as exc:
        logger.warning("webhook for %r ignored: %s", model_name, exc)
        return JsonResponse({"detail": "Accepted; not a model name mlopsadmin can reconcile."}, status=202)
    index_refresh_after_webhook(model_name)  # the registry pages show the model as MLflow has it now
    if report is None:
        return JsonResponse({"detail": "Accepted; reconciled shortly by a worker."}, status=202)
    return JsonResponse({"detail": "Reconciled.", "model": model_name, "external_changes": report.changes}, status=202)
