"""Pages of the experiment catalog: thin views over catalog.selectors / catalog.services."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog import drilldown, fixes, naming, selectors, services
from catalog.sync import catalog_sync_start
from mlopsadmin import policy
from mlopsadmin.core.errors import Conflict, InvalidInput
from mlopsadmin.core.formatting import CsvLines
from mlopsadmin.core.htmx import HtmxHttpRequest, stop_polling_and_refresh, swaps
from mlopsadmin.core.models import Team
from mlopsadmin.core.sorting import sort_headers
from mlopsadmin.lib.mlflow_client import MlflowError


def _sync_context(request: HttpRequest) -> dict[str, Any]:
    state = selectors.sync_status()
    ago = int((timezone.now() - state.last_success_at).total_seconds()) if state.last_success_at else None
    return {"sync": state, "synced_ago": ago, "can_sync": policy.can(request.user, policy.Action.CATALOG_SYNC)}


@require_GET
def index(request: HtmxHttpRequest) -> HttpResponse:
    filters = selectors.CatalogFilters.from_params(request.GET)
    conv = selectors.convention_get()
    paginator = Paginator(selectors.catalog_experiments(filters), settings.CATALOG_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    params = filters.as_params()
    context = {
        "title": "Experiment catalog",
        "nav_key": "catalog",
        "filters": filters,
        "page": page,
        "query": urlencode(params),
        "required_tags": conv.required_tags,
        "kinds": naming.VIOLATION_KINDS,
        "headers": sort_headers(selectors.SORT_COLUMNS, filters.sort, params),
        "statuses": selectors.STATUSES,
        "mlflow_ui": settings.MLFLOW_UI_URL,
        "choices": selectors.filter_choices(),
        "export_url": reverse("catalog:export") + (f"?{urlencode(params)}" if params else ""),
        **_sync_context(request),
    }
    if request.htmx and request.htmx.target == "catalog-table":
        return render(request, "catalog/index.html#table", context)
    context["teams_compliance"] = selectors.team_compliance(list(conv.required_tags))
    return render(request, "catalog/index.html", context)


CSV_COLUMNS = [
    "experiment_id",
    "name",
    "lifecycle_stage",
    "team",
    "project",
    "experiment_type",
    "run_count",
    "last_activity",
    "violations",
    "suggested_name",
    "missing_tags",
]


@require_GET
def export_csv(request: HttpRequest) -> StreamingHttpResponse:
    filters = selectors.CatalogFilters.from_params(request.GET)
    rows = selectors.catalog_experiments(filters)
    writer = CsvLines()

    def lines() -> Iterator[str]:
        yield writer.line(CSV_COLUMNS)
        for e in rows.iterator(chunk_size=1000):
            yield writer.line(
                [
                    e.experiment_id,
                    e.name,
                    e.lifecycle_stage,
                    e.team_key,
                    e.project,
                    e.experiment_type,
                    e.run_count,
                    e.last_activity.isoformat() if e.last_activity else "",
                    "; ".join(v.get("message", "") for v in e.violations or []),
                    e.suggested_name,
                    "; ".join(f"{k}={v}" for k, v in (e.missing_tag_counts or {}).items() if v),
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="experiment-catalog.csv"'
    return response


@require_POST
def sync_now(request: HtmxHttpRequest) -> HttpResponse:
    policy.require(request.user, policy.Action.CATALOG_SYNC)
    full = request.POST.get("full") == "1"
    try:
        catalog_sync_start(actor=request.user, full=full)
    except Conflict:
        if not request.htmx:
            messages.info(request, "A sync is already running.")
    else:
        if not request.htmx:  # with htmx the sync card says it; a flash would show on the next page
            messages.success(request, "Sync requested.")
    if request.htmx:
        return render(request, "catalog/index.html#sync", _sync_context(request))
    return redirect("catalog:index")


@require_GET
def sync_status(request: HtmxHttpRequest) -> HttpResponse:
    context = _sync_context(request)
    response = render(request, "catalog/index.html#sync", context)
    if request.htmx and context["sync"].state != "running" and request.GET.get("poll"):
        return stop_polling_and_refresh(request, response)  # the catalog table shows the synced index
    return response


@require_GET
def experiment_detail(request: HttpRequest, experiment_id: str) -> HttpResponse:
    row = fixes._index_row(experiment_id)
    conv = selectors.convention_get()
    runs: drilldown.OffendingPage | None = None
    live_error = ""
    if not row.is_deleted:
        try:
            runs = drilldown.offending_runs(
                row.experiment_id, list(conv.required_tags), after=request.GET.get("after", "")
            )
        except MlflowError as exc:  # the index part of the page still helps while MLflow is down
            live_error = f"Could not read the runs from MLflow: {exc}"
    team = row.team
    context = {
        "title": row.name,
        "nav_key": "catalog",
        "e": row,
        "runs": runs,
        "live_error": live_error,
        "required_tags": conv.required_tags,
        "experiment_url": selectors.experiment_url(row.experiment_id),
        "can_rename": policy.can(request.user, policy.Action.EXPERIMENT_RENAME, team=team),
        "can_tag": policy.can(request.user, policy.Action.EXPERIMENT_TAG_RUNS, team=team),
        "rename_denied": policy.denial_message(policy.Action.EXPERIMENT_RENAME, team),
        **_sync_context(request),
    }
    return render(request, "catalog/experiment.html", context)


@require_POST
def experiment_rename_view(request: HttpRequest, experiment_id: str) -> HttpResponse:
    row = fixes.experiment_rename(
        actor=request.user,
        experiment_id=experiment_id,
        new_name=request.POST.get("new_name", ""),
        expected_name=request.POST.get("expected_name", ""),
        reason=request.POST.get("reason", ""),
    )
    messages.warning(
        request,
        f"Renamed to {row.name}. Code that still calls set_experiment('{row.previous_name}') "
        "will create a NEW experiment under the old name: update it.",
    )
    return redirect("catalog:experiment", experiment_id=row.experiment_id)


@require_POST
def tag_runs_view(request: HttpRequest, experiment_id: str) -> HttpResponse:
    result = fixes.runs_tag_set(
        actor=request.user,
        experiment_id=experiment_id,
        run_ids=request.POST.getlist("run_ids"),
        key=request.POST.get("key", ""),
        value=request.POST.get("value", ""),
        reason=request.POST.get("reason", ""),
    )
    level = messages.success if result.outcome == "ok" else messages.warning
    level(
        request,
        f"Tagged {len(result.tagged)} run(s)" + (f"; {len(result.failed)} failed" if result.failed else "") + ".",
    )
    return redirect("catalog:experiment", experiment_id=experiment_id)


@require_http_methods(["GET", "POST"])
def builder(request: HtmxHttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    team_key, project, kind = (str(data.get(k, "")).strip()[:200] for k in ("team", "project", "experiment_type"))
    teams = list(Team.objects.all())
    if request.method == "POST":
        row = fixes.experiment_create(
            actor=request.user,
            team=team_key,
            project=project,
            experiment_type=kind,
            reason=request.POST.get("reason", ""),
        )
        messages.success(request, f"Created experiment {row.name} (id {row.experiment_id}) in MLflow.")
        return redirect("catalog:experiment", experiment_id=row.experiment_id)
    convention = selectors.convention_for(teams=teams)
    name, report = "", None
    team = next((t for t in teams if t.name == team_key), None)
    if team and (project or kind):
        name = naming.build_name(team.experiment_prefix, project, kind)
        report = naming.lint_name(name, convention)
    context = {
        "title": "Experiment name builder",
        "nav_key": "catalog",
        "teams": teams,
        "team_key": team_key,
        "project": project,
        "experiment_type": kind,
        "name": name,
        "report": report,
        "can_create": bool(team and policy.can(request.user, policy.Action.EXPERIMENT_CREATE, team=team)),
        "pattern": convention.segment_pattern,
    }
    if swaps(request, "builder-result"):
        return render(request, "catalog/builder.html#result", context)
    return render(request, "catalog/builder.html", context)


def _lines(text: str) -> list[str]:
    return [p for p in (s.strip() for s in text.replace(",", "\n").splitlines()) if p]


@require_http_methods(["GET", "POST"])
def convention(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if len(request.POST.get("reserved_words", "")) > 20000 or len(request.POST.get("required_tags", "")) > 5000:
            raise InvalidInput("Input too long.")
        services.convention_update(
            actor=request.user,
            segment_pattern=request.POST.get("segment_pattern", ""),
            reserved_words=_lines(request.POST.get("reserved_words", "")),
            required_tags=_lines(request.POST.get("required_tags", "")),
            reason=request.POST.get("reason", ""),
        )
        messages.success(request, "Convention saved; the catalog was re-evaluated.")
        return redirect("catalog:convention")
    context = {
        "title": "Naming convention",
        "nav_key": "catalog",
        "conv": selectors.convention_get(),
        "teams": Team.objects.all(),
        "can_edit": policy.can(request.user, policy.Action.CONVENTION_EDIT),
    }
    return render(request, "catalog/convention.html", context)
