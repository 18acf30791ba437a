"""The model naming lint (pure) and the SVG chart geometry (pure)."""

from __future__ import annotations

import pytest

from mlopsadmin.core.charts import X_FROM, X_TO, line_chart
from registry_ui.naming import lint_model_name, tokens


@pytest.mark.parametrize(
    ("name", "rules"),
    [
        # the operations guide's good examples: product names pass
        ("fraud-detector", set()),
        ("search-ranker", set()),
        ("recommendation-item2vec", set()),
        ("churn-predictor", set()),
        # the guide's bad examples, each with its reasons
        ("xgboost-fraud-v3", {"algorithm", "version"}),
        ("bert-search-ranking-2026", {"algorithm", "year"}),
        ("lgbm_model_final_final", {"algorithm", "reserved", "style"}),
        # more
        ("fraud-detector-test", {"reserved"}),
        ("FraudDetector", {"style"}),
        ("resnet50-image-tagger", {"algorithm"}),
        ("pricing-model-v2.1", {"version", "style"}),
        ("demand-forecast-2025q4", {"year"}),
        ("churn-predictor-final", {"reserved"}),
        ("vat-2000-scorer", {"year"}),
        ("eta-estimator-12345", set()),  # a long number is not a year
    ],
)
def test_lint_flags_with_reason(name: str, rules: set[str]) -> None:
    findings = lint_model_name(name)
    assert {f.rule for f in findings} == rules
    assert all(f.reason for f in findings)


def test_reasons_name_the_offending_word() -> None:
    reasons = {f.rule: f.reason for f in lint_model_name("xgboost-fraud-v3")}
    assert "'xgboost'" in reasons["algorithm"]
    assert "'v3'" in reasons["version"]


def test_word_lists_are_data() -> None:
    assert lint_model_name("prophet-demand-forecast") == []
    flagged = lint_model_name("prophet-demand-forecast", algorithm_words=["prophet"], reserved_words=[])
    assert [(f.rule, f.word) for f in flagged] == [("algorithm", "prophet")]
    # removing a word from the list lets the name pass
    assert lint_model_name("bert-ranker", algorithm_words=[], reserved_words=[]) == []


def test_tokens_split_camel_case_and_separators() -> None:
    assert tokens("XGBoost_fraud-v3") == ["xgboost", "fraud", "v3"]
    assert tokens("lgbmModel.final") == ["lgbm", "model", "final"]


def test_line_chart_maps_points_into_the_plot_area() -> None:
    chart = line_chart(
        [("champion", "champion", [(0, 0.5), (9, 0.8)]), ("candidate", "candidate", [(0, 0.6), (9, 0.9)])],
        x_label="step",
        y_label="m",
    )
    champion, candidate = chart.series
    first = [tuple(map(float, p.split(","))) for p in champion.segments[0].split()]
    top = [tuple(map(float, p.split(","))) for p in candidate.segments[0].split()]
    assert first[0][0] == X_FROM * chart.line_units / 100 and first[-1][0] == X_TO * chart.line_units / 100
    assert top[-1][1] == min(t.position for t in chart.y_ticks)  # highest value on the top tick
    assert first[0][1] == max(t.position for t in chart.y_ticks)  # lowest on the bottom one
    assert len(candidate.points) == 2 and "0.9000" in candidate.points[-1].tip


def test_line_chart_flat_series_does_not_divide_by_zero() -> None:
    chart = line_chart([("only", "candidate", [(3, 0.7)])])
    assert chart.series[0].points[0].label == "0.7000"
