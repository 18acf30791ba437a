"""Which aliases each action moves (pure): the operations guide's states, and inconsistent states."""

import pytest

from mlopsadmin.core.errors import InvalidInput, RuleViolation
from registry_ui.promotion import plans


def test_promote_challenger_moves_champion_to_previous_and_drops_challenger() -> None:
    plan = plans.plan_promote({"champion": "2", "previous-champion": "1", "challenger": "3"})
    assert plan.after == {"champion": "3", "previous-champion": "2"}
    assert [m.describe() for m in plan.moves] == [
        "@previous-champion: v1 → v2",
        "@champion: v2 → v3",
        "@challenger: v3 → (removed)",
    ]


def test_promote_a_chosen_version_keeps_the_challenger_elsewhere() -> None:
    plan = plans.plan_promote({"champion": "2", "challenger": "3"}, "4")
    assert plan.after == {"champion": "4", "previous-champion": "2", "challenger": "3"}


def test_first_promotion_has_no_previous_champion() -> None:
    assert plans.plan_promote({"challenger": "1"}).after == {"champion": "1"}


def test_promote_refuses_without_challenger_or_to_the_current_champion() -> None:
    with pytest.raises(RuleViolation):
        plans.plan_promote({"champion": "2"})
    with pytest.raises(RuleViolation):
        plans.plan_promote({"champion": "2"}, "2")


def test_rollback_returns_champion_and_marks_the_rolled_back_version() -> None:
    plan = plans.plan_rollback(
        {"champion": "3", "previous-champion": "2"}, reason="latency", now_iso="t", actor_name="lead"
    )
    assert plan.after == {"champion": "2", "rolled-back": "3"}
    assert ("3", "rollback_reason", "latency") in plan.tags
    assert ("3", "rolled_back_at", "t") in plan.tags


def test_rollback_needs_a_reason_and_a_previous_champion() -> None:
    with pytest.raises(InvalidInput):
        plans.plan_rollback({"champion": "3", "previous-champion": "2"}, reason=" ", now_iso="t", actor_name="x")
    with pytest.raises(RuleViolation):
        plans.plan_rollback({"champion": "3"}, reason="r", now_iso="t", actor_name="x")


def test_inconsistent_states_are_found_and_repaired() -> None:
    problems = plans.find_problems({"champion": "2", "previous-champion": "2", "challenger": "9"}, {"1", "2"})
    assert [alias for alias, _ in problems] == ["challenger", "previous-champion"]
    assert "does not exist" in problems[0][1]
    plan = plans.plan_repair({"champion": "2", "previous-champion": "2"}, {"2"})
    assert plan.after == {"champion": "2"}
    with pytest.raises(RuleViolation):
        plans.plan_repair({"champion": "2"}, {"2"})


def test_state_token_round_trips_and_ignores_order_and_types() -> None:
    token = plans.state_token({"champion": 2, "challenger": "3"})
    assert plans.parse_state_token(token) == {"challenger": "3", "champion": "2"}
    with pytest.raises(InvalidInput):
        plans.parse_state_token("not json")
