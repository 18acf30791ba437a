"""Compare API (issue 19 leftover: the comparison was a page only): the same table as the compare pages
(registry_ui/compare/selectors.py) as JSON, for notebooks and CI. Everyone signed in may compare (policy
Action.COMPARE). A pick that cannot be compared (not a version number, no such version or run, fewer than
two, more than MAX_COLUMNS) is refused with 400 and every reason in `detail`; nothing is half-compared."""

from __future__ import annotations

import math

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from mlopsadmin import policy
from mlopsadmin.core.errors import InvalidInput, NotFound
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import validation
from registry_ui.compare import selectors

router = Router(tags=["registry"])

KEY_LIST = Field(None, max_length=200, description="Rows to show (repeat the parameter); absent: all")


class Error(Schema):
    detail: str
    error: str | None = None


class ColumnOut(Schema):
    key: str = Field(description="The version number, or the run id")
    label: str
    run_id: str | None = Field(description="The compared run (a version's source run); null when MLflow has none")
    aliases: list[str]


class RowOut(Schema):
    kind: str = Field(description="metric, param or tag")
    key: str
    direction: str = Field(description="metrics: 'higher' or 'lower' is better; '' for params and tags")
    values: list[float | str | None] = Field(
        description="One per column, in column order; a metric's NaN/±inf as the strings 'NaN', 'Infinity', "
        "'-Infinity'; null when that run has no value"
    )
    best: list[bool] = Field(description="Metrics: the best value by the row's direction (ties all true)")
    differs: bool = Field(description="True when the columns do not all hold the same value")


class ComparisonOut(Schema):
    columns: list[ColumnOut]
    rows: list[RowOut]
    gate_metric: str = Field(description="Versions: the model's gate metric (its row comes first); runs: ''")


class VersionsQuery(Schema):
    v: list[str] = Field(..., max_length=50, description="Version numbers, 2 to 8 (repeat the parameter)")
    metric: list[str] | None = KEY_LIST
    param: list[str] | None = KEY_LIST
    tag: list[str] | None = KEY_LIST


class RunsQuery(Schema):
    run: list[str] = Field(..., max_length=50, description="Run ids, 2 to 8 (repeat the parameter)")
    metric: list[str] | None = KEY_LIST
    param: list[str] | None = KEY_LIST
    tag: list[str] | None = KEY_LIST


def _value(value: float | str | None) -> float | str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _out(comparison: selectors.Comparison) -> ComparisonOut:
    if comparison.problems:
        raise InvalidInput(" ".join(comparison.problems))
    return ComparisonOut(
        columns=[
            ColumnOut(key=c.key, label=c.label, run_id=c.run.run_id if c.run else None, aliases=c.aliases)
            for c in comparison.columns
        ],
        rows=[
            RowOut(
                kind=r.kind,
                key=r.key,
                direction=r.direction,
                values=[_value(cell.value) for cell in r.cells],
                best=[cell.best for cell in r.cells],
                differs=r.differs,
            )
            for r in comparison.rows
        ],
        gate_metric=comparison.gate_metric,
    )


def _keys(values: list[str] | None) -> list[str] | None:
    for value in values or []:
        if "\x00" in value:
            raise InvalidInput("A row name cannot contain NUL characters.")
    return values


@router.get(
    "/registry/models/{name}/compare",
    response={200: ComparisonOut, 400: Error, 404: Error},
    summary="Versions of one model side by side (metrics with direction and best, params, tags)",
)
def compare_versions(request: HttpRequest, name: str, query: Query[VersionsQuery]) -> ComparisonOut:
    policy.require(request.user, policy.Action.COMPARE)
    try:
        comparison = selectors.compare_versions(
            model_name=validation.model_name(name),
            versions=query.v,
            metrics=_keys(query.metric),
            params=_keys(query.param),
            tags=_keys(query.tag),
        )
    except (InvalidInput, mlf.MlflowNotFound, mlf.MlflowInvalid) as exc:
        raise NotFound(f"No registered model named {name!r} in MLflow.") from exc
    return _out(comparison)


@router.get(
    "/registry/runs/compare",
    response={200: ComparisonOut, 400: Error},
    summary="Any runs side by side (metrics with direction and best, params, tags)",
)
def compare_runs(request: HttpRequest, query: Query[RunsQuery]) -> ComparisonOut:
    policy.require(request.user, policy.Action.COMPARE)
    run_ids = list(dict.fromkeys(query.run))
    comparison = selectors.compare_runs(
        run_ids=run_ids, metrics=_keys(query.metric), params=_keys(query.param), tags=_keys(query.tag)
    )
    return _out(comparison)
