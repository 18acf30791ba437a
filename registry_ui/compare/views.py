"""Compare pages: versions of one model, or any runs, side by side (registry_ui/compare/selectors.py).
GET forms only (the picker is part of the page), so a comparison is a link that can be shared."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_GET

from mlopsadmin import policy
from mlopsadmin.core.errors import InvalidInput, NotFound
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import selectors as registry_selectors
from registry_ui.compare import selectors

SECTIONS = [("Metrics", "metric"), ("Params", "param"), ("Tags", "tag")]
PICKER_VERSIONS = 50  # newest versions offered as checkboxes on the compare page (the chosen ones always)


def _rows_chosen(query: QueryDict) -> dict[str, list[str] | None]:
    """The rows picked with the page's checkboxes; without `choose=1` (a link from the model page) the
    defaults (every metric and param, the non-system tags)."""
    if query.get("choose") != "1":
        return {"metrics": None, "params": None, "tags": None}
    return {"metrics": query.getlist("metric"), "params": query.getlist("param"), "tags": query.getlist("tag")}


def _page(comparison: selectors.Comparison) -> dict[str, Any]:
    """What both compare pages show besides their picker: the table in sections, the limits."""
    return {
        "comparison": comparison,
        "sections": [(title, comparison.rows_of(kind)) for title, kind in SECTIONS],
        "max_columns": selectors.MAX_COLUMNS,
        "max_charts": selectors.MAX_CHARTS,
        "chosen_keys": [c.key for c in comparison.columns],
    }


@require_GET
def versions_compare(request: HttpRequest, name: str) -> HttpResponse:
    """`?v=1&v=3[&choose=1&metric=…&param=…&tag=…]`: the chosen versions side by side."""
    policy.require(request.user, policy.Action.COMPARE)
    try:
        comparison = selectors.compare_versions(
            model_name=name, versions=request.GET.getlist("v"), **_rows_chosen(request.GET)
        )
    except (mlf.MlflowNotFound, mlf.MlflowInvalid) as exc:
        raise NotFound(f"No registered model named {name!r} in MLflow.") from exc
    if not request.GET.getlist("v"):
        comparison.problems = []  # a first visit: the picker, no complaint
    chosen = list(dict.fromkeys([c.key for c in comparison.columns] + request.GET.getlist("v")))
    offered = [v.version for v in registry_selectors.model_versions(name)]
    offered = offered[:PICKER_VERSIONS] + [v for v in chosen if v not in offered[:PICKER_VERSIONS]]
    context: dict[str, Any] = {
        "title": f"Compare versions of {name}",
        "nav_key": "registry",
        "model_name": name,
        "offered": offered,
        **_page(comparison),
        "run_ids": [c.run.run_id for c in comparison.columns if c.run],
    }
    return render(request, "registry_ui/compare.html", context)


@require_GET
def runs_compare(request: HttpRequest) -> HttpResponse:
    """`?runs=<ids separated by spaces, commas or lines>` and/or `?run=<id>&run=<id>`: runs side by side."""
    policy.require(request.user, policy.Action.COMPARE)
    typed = request.GET.get("runs", "")
    try:
        run_ids = list(dict.fromkeys([*request.GET.getlist("run"), *selectors.parse_run_ids(typed)]))
    except InvalidInput as exc:
        run_ids, typed = [], ""
        comparison = selectors.compare_runs(run_ids=[])
        comparison.problems = [str(exc)]
    else:
        comparison = selectors.compare_runs(run_ids=run_ids, **_rows_chosen(request.GET))
        if not run_ids:
            comparison.problems = []  # a first visit: the picker, no complaint
    context = {
        "title": "Compare runs",
        "nav_key": "registry",
        "runs_text": "\n".join(run_ids) if run_ids else typed,
        **_page(comparison),
    }
    return render(request, "registry_ui/compare.html", context)
