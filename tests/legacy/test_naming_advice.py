"""Case 9 of issue 16: naming advice that does not harm. Reserved words match whole segments only; a
name without the leading slash or with only the team prefix is not "flat" and the suggestion does not
repeat the team; an experiment with no runs but an experiment tag team=… gets that team (real server)."""

from __future__ import annotations

import uuid

import pytest

from catalog import naming
from catalog.models import CatalogExperiment
from catalog.sync import catalog_sync
from mlopsadmin.lib import mlflow_client as mlf

CONVENTION = naming.Convention(
    prefixes={"risk": "/risk-team", "forecasting": "/forecasting-team", "vision": "/vision-team"}
)

# name, hint, violation kinds, suggestion
TABLE = [
    ("/risk-team/default-prediction/xgboost", None, [], None),  # 'default' inside a segment is fine
    ("/risk-team/default/xgboost", None, ["reserved"], None),  # a whole segment is not
    ("forecasting-team/capacity-forecast/sweep", None, ["leading_slash"], "/forecasting-team/capacity-forecast/sweep"),
    (
        "forecasting-team/capacity-forecast/sweep",
        "forecasting",
        ["leading_slash"],
        "/forecasting-team/capacity-forecast/sweep",
    ),
    ("/vision-team", None, ["segments"], None),
    ("/vision-team/", "vision", ["segments"], None),
    (
        "forecasting-team/capacity-forecast",
        None,
        ["leading_slash", "segments"],
        "/forecasting-team/capacity-forecast/general",
    ),
    ("capacity_forecast", "forecasting", ["flat"], "/forecasting-team/capacity-forecast/general"),
    # Whitespace around a name is part of the name in MLflow (a different experiment): flagged, trimmed.
    (" /risk-team/default-prediction/xgboost ", None, ["characters"], "/risk-team/default-prediction/xgboost"),
    ("/risk-team/prévision-énergie/sweep", None, ["characters"], "/risk-team/prevision-energie/sweep"),  # accents kept
]


@pytest.mark.parametrize(("name", "hint", "kinds", "suggestion"), TABLE)
def test_naming_advice(name: str, hint: str | None, kinds: list[str], suggestion: str | None) -> None:
    report = naming.lint_name(name, CONVENTION, team_hint=hint)
    assert report.kinds == sorted(kinds), report.violations
    assert report.suggested_name == suggestion
    if suggestion:
        assert naming.lint_name(suggestion, CONVENTION).compliant


@pytest.mark.django_db
def test_experiment_tag_team_assigns_a_team_without_runs(mlflow, personas) -> None:
    name = f"capacity_notes_{uuid.uuid4().hex[:6]}"
    experiment_id = mlf.create_experiment(name, tags={"team": "search"})
    catalog_sync(full=True)
    row = CatalogExperiment.objects.select_related("team").get(experiment_id=experiment_id)
    assert row.run_count == 0
    assert row.team is not None and row.team.name == "search"
    assert row.suggested_name == f"/search-team/{name.replace('_', '-')}/general"


@pytest.mark.django_db
@pytest.mark.parametrize("tag", ["Search", " search ", "search-team", "/search-team"])
def test_team_tag_written_by_hand_in_another_shape_names_the_team(mlflow, personas, tag) -> None:
    experiment_id = mlf.create_experiment(f"notes_{uuid.uuid4().hex[:6]}", tags={"team": tag})
    catalog_sync(full=True)
    row = CatalogExperiment.objects.select_related("team").get(experiment_id=experiment_id)
    assert row.team is not None and row.team.name == "search", tag


@pytest.mark.django_db
def test_api_filters_by_every_violation_kind(mlflow, personas, login) -> None:
    name = f"search-team/leading-{uuid.uuid4().hex[:6]}/sweep"
    mlf.create_experiment(name)
    catalog_sync(full=True)
    client = login("admin")
    for kind in naming.VIOLATION_KINDS:
        assert client.get("/api/v1/experiments", {"kind": kind}).status_code == 200, kind
    found = client.get("/api/v1/experiments", {"kind": "leading_slash", "limit": 500}).json()["items"]
    assert name in [e["name"] for e in found]


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("Forecasting-Team/capacity-forecast/sweep", None),  # the team's prefix in another spelling
        ("forecasting/capacity-forecast/sweep", None),  # a segment that names the team
        ("risk/default-prediction/xgboost", None),
        ("johns/ranking/sweep", "vision"),  # an unknown first segment, the team from the runs' tags
    ],
)
def test_a_hierarchy_without_the_leading_slash_is_not_flat(name: str, hint: str | None) -> None:
    """Break-test of case 9's kind: only a name whose first segment was exactly a known prefix got "no
    leading slash"; any other hierarchy without it was "flat" with no suggestion, while the same name with
    the slash got a useful one. Without the slash a name is judged as with it, plus "no leading slash"."""
    with_slash = naming.lint_name("/" + name, CONVENTION, team_hint=hint)
    report = naming.lint_name(name, CONVENTION, team_hint=hint)
    assert report.kinds == sorted({"leading_slash", *with_slash.kinds}), report.violations
    assert report.suggested_name == with_slash.suggested_name
    assert report.suggested_name and naming.lint_name(report.suggested_name, CONVENTION).compliant
