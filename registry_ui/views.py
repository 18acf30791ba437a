"""Registry pages. Thin: one service or selector call each; rules live in services/selectors."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mlopsadmin import policy
from mlopsadmin.core.errors import Conflict, InvalidInput, NotFound
from mlopsadmin.core.htmx import HtmxHttpRequest, redirect_after_post, swaps, wants_fragment
from mlopsadmin.core.selectors import all_teams, team_for_model
from mlopsadmin.core.sorting import sort_headers
from notifications.selectors import is_watching
from registry_ui import selectors, services, sorting, validation
from registry_ui.approvals import selectors as approval_selectors
from registry_ui.compare.selectors import MAX_COLUMNS as MAX_COMPARED
from registry_ui.environments import selectors as env_selectors
from registry_ui.index_sync import registry_sync_start
from registry_ui.models import NamingWord, NamingWordKind, RequiredMetadataKey
from registry_ui.promotion import gate_reads
from registry_ui.promotion import selectors as promotion_selectors

VERSIONS_PER_PAGE = 25
MODELS_PER_PAGE = 50


def _version_number(version: str) -> str:
    try:
        return validation.model_version(version)
    except InvalidInput as exc:
        raise NotFound(f"{version[:40]!r} is not a version number.") from exc


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
        "as_of": selectors.registry_as_of(),
        "may_sync": policy.can(request.user, policy.Action.MAINTENANCE_RUN),
    }
    if swaps(request, "models"):
        return render(request, "registry_ui/index.html#models", context)
    return render(request, "registry_ui/index.html", context)


@require_GET
def model_detail(request: HtmxHttpRequest, name: str) -> HttpResponse:
    model, versions, as_of = selectors.model_for_page(name)
    gate_metric = selectors.gate_metric_for(model)
    page = Paginator(versions, VERSIONS_PER_PAGE).get_page(request.GET.get("page"))
    team = team_for_model(name)
    required = selectors.required_metadata_keys()
    rows = selectors.version_rows(model, list(page.object_list), gate_metric, required)
    ticked = _ticked_versions(request)
    shown = {str(row.version.version) for row in rows}
    context = {
        "title": name,
        "nav_key": "registry",
        "model": model,
        "team": team,
        "gate_metric": gate_metric,
        "page": page,
        "rows": rows,
        "ticked": ticked,  # versions ticked for comparison, kept while paging (the pager submits the form)
        "ticked_elsewhere": [v for v in ticked if v not in shown],
        "findings": selectors.model_name_findings(name),
        "required_keys": required,
        "tracked": [(a, model.aliases.get(a)) for a in selectors.TRACKED_ALIASES],
        "model_ui_url": selectors.model_ui_url(name),
        "may_request": policy.can(request.user, policy.Action.APPROVAL_REQUEST, team=team),
        **promotion_selectors.promotion_panel(request.user, name, model.aliases, versions.numbers(), team),
        "may_watch": policy.can(request.user, policy.Action.MODEL_WATCH),
        "watching": is_watching(request.user, name),
        "max_compare": MAX_COMPARED,
        "as_of": as_of,
    }
    if request.htmx and request.GET.get("partial") == "versions":
        return render(request, "registry_ui/model.html#versions", context)
    context["environments"] = env_selectors.version_environment(name)
    return render(request, "registry_ui/model.html", context)


def _ticked_versions(request: HttpRequest) -> list[str]:
    """The distinct version numbers in ?v= (the compare form's ticks carried from page to page), at most
    MAX_COMPARED + 1 so the compare page can still say 'too many'; anything not a number is dropped."""
    found: list[str] = []
    for value in request.GET.getlist("v")[:100]:
        if value.isascii() and value.isdigit() and str(int(value)) not in found:
            found.append(str(int(value)))
    return found[: MAX_COMPARED + 1]


def _version_context(request: HttpRequest, name: str, version: str) -> dict[str, Any]:
    view = selectors.version_for_page(name, _version_number(version))
    model, found = view.model, view.version
    team = team_for_model(name)
    # Each thing read once and passed down: the gate settings, the version's approval (issue 20).
    config, default_metric = gate_reads.gate_config_and_default(name, team=team)
    gate_metric = selectors.gate_metric_for(model, default=default_metric)
    required = selectors.required_metadata_keys()
    approval = approval_selectors.version_approval(model_name=name, version=found.version)
    gate = gate_reads.version_gate(view, team=team, config=config, approval=approval)
    tag_rows = [(k, found.tags.get(k), True) for k in required]
    tag_rows += [(k, v, False) for k, v in sorted(found.tags.items()) if k not in required]
    user = request.user
    history, pending, state, imported = approval.history, approval.pending, approval.state, approval.imported
    return {
        "title": f"{name} v{found.version}",
        "nav_key": "registry",
        "model": model,
        "version": found,
        "team": team,
        "gate_metric": gate_metric,
        "lineage": selectors.version_lineage(view, required),
        "comparison": selectors.champion_comparison(view, gate_metric, {gate.config.metric: gate.config.direction}),
        "gate": gate,
        "tag_rows": tag_rows,
        "workflow_tags": services.WORKFLOW_TAGS,
        "history": history,
        "pending": pending,
        "state": state,
        "imported": imported,
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
        "as_of": view.as_of,
        "environments": env_selectors.version_environment(name),
    }


def _chart_context(name: str, version: str) -> dict[str, Any]:
    """The champion-vs-version step chart (metric histories read from MLflow: loaded after the page)."""
    view = selectors.version_for_page(name, _version_number(version))
    config, default_metric = gate_reads.gate_config_and_default(name)
    gate_metric = selectors.gate_metric_for(view.model, default=default_metric)
    chart = selectors.comparison_chart(view, gate_metric, {config.metric: config.direction})
    return {
        "model": view.model,
        "version": view.version,
        "gate_metric": gate_metric,
        "chart": chart,
        "chart_loaded": True,
    }


@require_GET
def version_detail(request: HtmxHttpRequest, name: str, version: str) -> HttpResponse:
    """The version page from the index; `?chart=1` adds the step chart (htmx loads it as a fragment)."""
    if request.htmx and request.GET.get("chart"):
        return render(request, "registry_ui/version.html#chart", _chart_context(name, version))
    context = _version_context(request, name, version)
    context["editing"] = request.GET.get("edit", "")
    if request.GET.get("chart"):
        context.update(_chart_context(name, version))
    return render(request, "registry_ui/version.html", context)


@require_POST
def registry_sync(request: HttpRequest) -> HttpResponse:
    """ "Sync now": queue a registry index sync (`full=1`: every version and source run)."""
    policy.require(request.user, policy.Action.MAINTENANCE_RUN)
    try:
        registry_sync_start(actor=request.user, full=request.POST.get("full") == "1" or None)
    except Conflict:
        messages.info(request, "A registry sync is already queued or running.")
    else:
        messages.success(request, "Registry sync queued; the pages show its data when it has finished.")
    return redirect_after_post(request, reverse("registry:index"))


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
    found = selectors.version_for_page(name, _version_number(version)).version
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
