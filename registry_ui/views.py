"""Registry pages. Thin: one service or selector call each; rules live in services/selectors."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from mlopsadmin import policy
from mlopsadmin.core.errors import InvalidInput, NotFound
from mlopsadmin.core.htmx import HtmxHttpRequest, redirect_after_post, wants_fragment
from mlopsadmin.core.selectors import all_teams, team_for_model
from mlopsadmin.core.sorting import sort_headers
from mlopsadmin.lib import mlflow_client as mlf
from notifications.selectors import is_watching
from registry_ui import selectors, services, sorting, validation
from registry_ui.approvals import selectors as approval_selectors
from registry_ui.compare.selectors import MAX_COLUMNS as MAX_COMPARED
from registry_ui.models import NamingWord, NamingWordKind, RequiredMetadataKey
from registry_ui.promotion import selectors as promotion_selectors

VERSIONS_PER_PAGE = 25
MODELS_PER_PAGE = 50


def _model_or_404(name: str) -> mlf.RegisteredModel:
    try:
        return mlf.get_registered_model(name)
    except (mlf.MlflowNotFound, mlf.MlflowInvalid) as exc:
        raise NotFound(f"No registered model named {name!r} in MLflow.") from exc


def _version_or_404(name: str, version: str) -> mlf.ModelVersion:
    try:
        version = validation.model_version(version)
    except InvalidInput as exc:
        raise NotFound(f"{version[:40]!r} is not a version number.") from exc
    try:
        return mlf.get_model_version(name, version)
    except (mlf.MlflowNotFound, mlf.MlflowInvalid) as exc:
        raise NotFound(f"Model version {name}/{version} does not exist in MLflow (unknown or deleted).") from exc


@require_GET
def index(request: HtmxHttpRequest) -> HttpResponse:
    query, team = request.GET.get("q", "").strip()[:200], request.GET.get("team", "")[:64]
    flagged_only = request.GET.get("flagged") == "1"
    sort = sorting.clean_sort(request.GET.get("sort", ""))
    filters = {"query": query, "team": team, "flagged_only": flagged_only, "sort": sort}
    rows = selectors.registry_overview(query=query, team=team, flagged_only=flagged_only)
    page = Paginator(sorting.sort_model_rows(rows, sort), MODELS_PER_PAGE).get_page(request.GET.get("page"))
    params = {"q": query, "team": team, "flagged": "1" if flagged_only else ""}
    context = {
        "title": "Model registry",
        "nav_key": "registry",
        "page": page,
        "total": len(rows),
        "flagged": sum(1 for r in rows if r.findings),
        "teams": all_teams(),
        "filters": filters,
        "headers": sort_headers(sorting.SORT_COLUMNS, sort, params),
        "query": urlencode({k: v for k, v in {**params, "sort": sort}.items() if v and v != sorting.DEFAULT_SORT}),
        "tracked_aliases": selectors.TRACKED_ALIASES,
        "inbox_count": approval_selectors.inbox_count(request.user),  # the badge's count: not one's own
    }
    if request.htmx:
        return render(request, "registry_ui/index.html#models", context)
    return render(request, "registry_ui/index.html", context)


@require_GET
def model_detail(request: HtmxHttpRequest, name: str) -> HttpResponse:
    model = _model_or_404(name)
    gate_metric = selectors.gate_metric_for(model)
    versions = selectors.model_versions(name)
    page = Paginator(versions, VERSIONS_PER_PAGE).get_page(request.GET.get("page"))
    team = team_for_model(name)
    context = {
        "title": name,
        "nav_key": "registry",
        "model": model,
        "team": team,
        "gate_metric": gate_metric,
        "page": page,
        "rows": selectors.version_rows(model, list(page.object_list), gate_metric),
        "findings": selectors.model_name_findings(name),
        "required_keys": selectors.required_metadata_keys(),
        "tracked": [(a, model.aliases.get(a)) for a in selectors.TRACKED_ALIASES],
        "model_ui_url": selectors.model_ui_url(name),
        "may_request": policy.can(request.user, policy.Action.APPROVAL_REQUEST, team=team),
        **promotion_selectors.promotion_panel(request.user, name, model.aliases, versions),
        "may_watch": policy.can(request.user, policy.Action.MODEL_WATCH),
        "watching": is_watching(request.user, name),
        "max_compare": MAX_COMPARED,
    }
    if request.htmx and request.GET.get("partial") == "versions":
        return render(request, "registry_ui/model.html#versions", context)
    return render(request, "registry_ui/model.html", context)


def _version_context(request: HttpRequest, name: str, version: str) -> dict[str, Any]:
    model = _model_or_404(name)
    found = _version_or_404(name, version)
    team = team_for_model(name)
    gate_metric = selectors.gate_metric_for(model)
    required = selectors.required_metadata_keys()
    gate = promotion_selectors.version_gate(model, found.version)
    tag_rows = [(k, found.tags.get(k), True) for k in required]
    tag_rows += [(k, v, False) for k, v in sorted(found.tags.items()) if k not in required]
    user = request.user
    history = approval_selectors.approval_history(model_name=name, version=found.version)
    pending = next((r for r in history if r.state == "pending"), None)
    return {
        "title": f"{name} v{found.version}",
        "nav_key": "registry",
        "model": model,
        "version": found,
        "team": team,
        "gate_metric": gate_metric,
        "lineage": selectors.version_lineage(found),
        "comparison": selectors.champion_comparison(
            model, found, gate_metric, {gate.config.metric: gate.config.direction}
        ),
        "gate": gate,
        "tag_rows": tag_rows,
        "workflow_tags": services.WORKFLOW_TAGS,
        "history": history,
        "pending": pending,
        "state": approval_selectors.approval_state(model_name=name, version=found.version),
        "imported": approval_selectors.imported_approval(model_name=name, version=found.version),
        "may_edit": policy.can(user, policy.Action.MODEL_EDIT_TAGS, team=team),
        "may_request": policy.can(user, policy.Action.APPROVAL_REQUEST, team=team),
        "may_decide": bool(pending)
        and policy.can(user, policy.Action.APPROVAL_DECIDE, team=team)
        and pending.requester_id != user.pk,  # type: ignore[union-attr]
        "may_withdraw": bool(pending)
        and (pending.requester_id == user.pk or policy.is_admin(user))  # type: ignore[union-attr]
        and policy.can(user, policy.Action.APPROVAL_WITHDRAW, team=team),
        "own_pending": bool(pending) and pending.requester_id == user.pk,  # type: ignore[union-attr]
        "model_ui_url": selectors.model_ui_url(name, found.version),
    }


@require_GET
def version_detail(request: HttpRequest, name: str, version: str) -> HttpResponse:
    context = _version_context(request, name, version)
    context["editing"] = request.GET.get("edit", "")
    return render(request, "registry_ui/version.html", context)


@require_http_methods(["GET", "POST"])
def version_tag(request: HtmxHttpRequest, name: str, version: str) -> HttpResponse:
    """GET ?key=…&edit=1: the inline editor for one tag (htmx); POST: save it through the service."""
    key = (request.POST.get("key") if request.method == "POST" else request.GET.get("key")) or ""
    if request.method == "POST":
        policy.require(request.user, policy.Action.MODEL_EDIT_TAGS, team=team_for_model(name))
        services.version_tag_set(
            actor=request.user, model_name=name, version=version, key=key, value=request.POST.get("value", "")
        )
        if not wants_fragment(request):
            messages.success(request, f"Tag '{key}' saved to MLflow.")
            return redirect(reverse("registry:version", args=[name, version]))
    found = _version_or_404(name, version)
    required = key in selectors.required_metadata_keys()
    context = {
        "model": found,
        "version": found,
        "row": (key, found.tags.get(key), required),
        "editing": request.method == "GET" and request.GET.get("edit") == "1",
        "may_edit": policy.can(request.user, policy.Action.MODEL_EDIT_TAGS, team=team_for_model(name)),
        "workflow_tags": services.WORKFLOW_TAGS,
        "saved": request.method == "POST",
    }
    return render(request, "registry_ui/_tag_row.html", context)


@require_http_methods(["GET", "POST"])
def registry_settings(request: HttpRequest) -> HttpResponse:
    """Naming-lint word lists and required version metadata: admins edit, everyone reads."""
    if request.method == "POST":
        policy.require(request.user, policy.Action.CONVENTION_EDIT)
        action = request.POST.get("action", "")
        if action == "word_add":
            word = services.naming_word_add(
                actor=request.user, word=request.POST.get("word", ""), kind=request.POST.get("kind", "")
            )
            messages.success(request, f"'{word.word}' added to the {word.get_kind_display()} list.")
        elif action == "word_remove":
            services.naming_word_remove(actor=request.user, word_id=_int(request.POST.get("id")))
            messages.success(request, "Word removed.")
        elif action == "key_add":
            key = services.required_key_add(
                actor=request.user, key=request.POST.get("key", ""), description=request.POST.get("description", "")
            )
            messages.success(request, f"'{key.key}' is now required on every version.")
        elif action == "key_remove":
            services.required_key_remove(actor=request.user, key_id=_int(request.POST.get("id")))
            messages.success(request, "Required key removed.")
        else:
            messages.error(request, "Unknown action.")
        return redirect_after_post(request, reverse("registry:settings"))
    return render(
        request,
        "registry_ui/settings.html",
        {
            "title": "Registry conventions",
            "nav_key": "registry",
            "words": NamingWord.objects.all(),
            "kinds": NamingWordKind.choices,
            "keys": RequiredMetadataKey.objects.all(),
            "may_edit": policy.can(request.user, policy.Action.CONVENTION_EDIT),
        },
    )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
