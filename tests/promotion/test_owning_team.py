"""The team owning a model is resolved in one query (issue 20: a promotion looked it up in three: the explicit
assignment, the glob patterns, then the matched team), with the same precedence: explicit assignment, then
the most specific pattern, then a team's legacy regular expression, else nobody."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from configuration.models import ModelPattern
from mlopsadmin.core.models import ModelOwnership, Team
from mlopsadmin.core.selectors import team_for_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def owners() -> dict[str, Team]:
    teams = {
        name: Team.objects.create(name=name, display_name=name.title(), experiment_prefix=f"/{name}-x", **extra)
        for name, extra in (("alpha", {}), ("beta", {"model_name_pattern": r"^legacy-"}), ("gamma", {}))
    }
    ModelPattern.objects.create(pattern="ranker-*", team=teams["alpha"])
    ModelPattern.objects.create(pattern="ranker-v2*", team=teams["gamma"])  # more literal characters
    ModelPattern.objects.create(pattern="legacy-*-gl", team=teams["gamma"])
    ModelOwnership.objects.create(model_name="ranker-v2-special", team=teams["beta"])
    return teams


@pytest.mark.parametrize(
    ("model_name", "owner"),
    [
        ("ranker-v2-special", "beta"),  # explicit assignment beats every pattern
        ("ranker-v2-x", "gamma"),  # the most specific pattern
        ("ranker-v1", "alpha"),
        ("legacy-a-gl", "gamma"),  # a pattern beats a legacy regular expression
        ("legacy-model", "beta"),  # only the legacy regular expression matches
        ("nobody-owns-me", None),
    ],
)
def test_the_owning_team_is_one_query_with_the_same_precedence(owners, model_name, owner) -> None:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        team = team_for_model(model_name)
    assert (team.name if team else None) == owner
    assert len(queries.captured_queries) == 1, [q["sql"][:120] for q in queries.captured_queries]
    if team is not None:
        assert team == Team.objects.get(name=owner) and team.display_name == owner.title()
