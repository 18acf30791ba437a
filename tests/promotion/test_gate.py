"""The validation gate's rules, each on its own (pure, no MLflow)."""

from registry_ui.promotion.gate import GateConfig, gate_evaluate

CONFIG = GateConfig(metric="val_ndcg_at_10", threshold=0.80, max_drop_pct=2.0, require_approval=True)


def evaluate(**overrides):  # type: ignore[no-untyped-def]
    values = {
        "config": CONFIG,
        "candidate_version": "3",
        "candidate_metric": 0.86,
        "champion_version": "2",
        "champion_metric": 0.85,
        "approved": True,
    }
    values.update(overrides)
    return gate_evaluate(**values)


def failed_rules(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.rule for r in result.failures]


def test_a_good_approved_candidate_passes_every_rule() -> None:
    result = evaluate()
    assert result.passed
    assert [r.status for r in result.rules] == ["pass", "pass", "pass", "pass"]


def test_missing_metric_blocks_alone_and_names_the_metric() -> None:
    result = evaluate(candidate_metric=None)
    assert not result.passed
    assert failed_rules(result) == ["metric_present"]
    assert "val_ndcg_at_10" in result.reasons()[0]


def test_below_threshold_blocks_alone_with_the_numbers() -> None:
    result = evaluate(candidate_metric=0.79, champion_metric=0.70)
    assert failed_rules(result) == ["threshold"]
    assert "0.7900" in result.reasons()[0] and "0.8000" in result.reasons()[0]


def test_more_than_two_percent_below_champion_blocks_alone() -> None:
    result = evaluate(candidate_metric=0.85, champion_metric=0.90)  # 5.6 % drop, above threshold
    assert failed_rules(result) == ["no_regression"]
    reason = result.reasons()[0]
    assert "5.56%" in reason and "v2" in reason and "0.9000" in reason


def test_a_drop_of_exactly_two_percent_is_allowed() -> None:
    assert evaluate(candidate_metric=0.882, champion_metric=0.90).passed


def test_missing_approval_blocks_alone_when_required() -> None:
    result = evaluate(approved=False)
    assert failed_rules(result) == ["approval"]


def test_approval_not_needed_when_the_policy_says_so() -> None:
    config = GateConfig(metric="val_ndcg_at_10", threshold=0.80, max_drop_pct=2.0, require_approval=False)
    assert evaluate(config=config, approved=False).passed


def test_no_champion_means_only_threshold_and_approval_count() -> None:
    assert evaluate(champion_version=None, champion_metric=None).passed


def test_every_failing_rule_is_listed() -> None:
    result = evaluate(candidate_metric=0.5, champion_metric=0.9, approved=False)
    assert failed_rules(result) == ["threshold", "no_regression", "approval"]
    assert result.as_json()["passed"] is False
