"""The naming parser/linter on a table of good and bad names (the operations guide's examples included)."""

from __future__ import annotations

import pytest

from catalog import naming

CONVENTION = naming.Convention(
    prefixes={"search": "/search-team", "fraud": "/fraud-team", "recommendation": "/rec-team", "churn": "/churn-team"}
)

# name, team hint, expected violation kinds, expected suggestion (None: not derivable)
TABLE = [
    ("/search-team/query-ranking/bert-finetune", None, [], None),
    ("/fraud-team/transaction-classifier/xgboost-baseline", None, [], None),
    ("/search-team/query-ranking/bert-v4-sweep", None, [], None),
    ("experiment_1", None, ["flat"], None),
    ("experiment_1", "churn", ["flat"], "/churn-team/experiment-1/general"),
    ("test_model", "search", ["flat"], "/search-team/test-model/general"),  # reserved words: whole segments only
    ("test", "search", ["flat", "reserved"], None),
    ("johns_experiment", "fraud", ["flat"], "/fraud-team/johns-experiment/general"),
    ("johns_experiment", None, ["flat"], None),
    ("/recommendation/item2vec/hyperopt-sweep", None, ["unknown_prefix"], "/rec-team/item2vec/hyperopt-sweep"),
    ("/marketing/campaigns/uplift", None, ["unknown_prefix"], None),
    ("/marketing/campaigns/uplift", "search", ["unknown_prefix"], "/search-team/campaigns/uplift"),
    ("/search-team/QueryRanking", "search", ["characters", "segments"], "/search-team/query-ranking/general"),
    ("/search-team/query-ranking", None, ["segments"], "/search-team/query-ranking/general"),
    ("/search-team/a/b/c", None, ["segments"], "/search-team/a/b-c"),
    ("/fraud-team/Transaction_Classifier/xgb", None, ["characters"], "/fraud-team/transaction-classifier/xgb"),
    ("/fraud-team/tx/xgb baseline", None, ["characters"], "/fraud-team/tx/xgb-baseline"),
    ("/fraud-team/tmp/test", "fraud", ["reserved"], None),
    ("/churn-team/churn-model/tmp-sweep", None, [], None),
    ("/churn-team/churn-model/tmp", None, ["reserved"], "/churn-team/churn-model/general"),
    ("/search-team//bert", None, ["characters"], "/search-team/bert/general"),
]


@pytest.mark.parametrize(("name", "hint", "kinds", "suggestion"), TABLE)
def test_lint_table(name: str, hint: str | None, kinds: list[str], suggestion: str | None) -> None:
    report = naming.lint_name(name, CONVENTION, team_hint=hint)
    assert report.kinds == sorted(kinds), [v.message for v in report.violations]
    assert report.compliant == (not kinds)
    assert report.suggested_name == suggestion
    assert all(v.message for v in report.violations)  # every violation says why
    if suggestion:
        assert naming.lint_name(suggestion, CONVENTION).compliant


def test_good_name_parts() -> None:
    report = naming.lint_name("/search-team/query-ranking/bert-finetune", CONVENTION)
    assert (report.team, report.project, report.experiment_type) == ("search", "query-ranking", "bert-finetune")


def test_unknown_prefix_message_lists_known_prefixes() -> None:
    report = naming.lint_name("/recommendation/item2vec/hyperopt-sweep", CONVENTION)
    assert "/rec-team" in report.violations[0].message


def test_suggestion_avoids_taken_names() -> None:
    report = naming.lint_name("/search-team/QueryRanking", CONVENTION, taken={"/search-team/query-ranking/general"})
    assert report.suggested_name == "/search-team/query-ranking/general-2"


def test_custom_pattern_and_reserved_words() -> None:
    relaxed = naming.Convention(
        prefixes={"search": "/search-team"}, segment_pattern=r"[a-z0-9_]+", reserved_words=("sandbox",)
    )
    assert naming.lint_name("/search-team/query_ranking/bert", relaxed).compliant
    assert naming.lint_name("/search-team/test/bert", relaxed).compliant  # 'test' not reserved here
    assert naming.lint_name("/search-team/sandbox/bert", relaxed).kinds == ["reserved"]


def test_build_name() -> None:
    built = naming.build_name("/search-team", "query-ranking", "bert-v4-sweep")
    assert built == "/search-team/query-ranking/bert-v4-sweep"


def test_a_name_longer_than_mlflow_keeps_is_not_compliant(login, personas) -> None:  # type: ignore[no-untyped-def]
    """Break-test: the name builder called a 275-character name 'compliant' and offered "Create in MLflow",
    though MLflow's store keeps experiment names of at most 256 characters (a PostgreSQL or MySQL store
    refuses the insert)."""
    long_name = "/search-team/" + "p" * 300 + "/x"
    report = naming.lint_name(long_name, CONVENTION)
    assert not report.compliant
    assert any("at most 256" in v.message for v in report.violations)
    assert naming.lint_name("/search-team/" + "p" * 238 + "/runs", CONVENTION).compliant  # 256: fine
    built = {"team": "search", "project": "p" * 200, "experiment_type": "x" * 60}  # 275 characters
    page = login("lead_search").get("/catalog/builder/", built)
    body = page.content.decode()
    assert "at most 256" in body and "Create in MLflow" not in body
