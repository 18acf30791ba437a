"""Case 4 of issue 16: alias semantics on a real MLflow server. Promoting a version that carries
@rolled-back takes the marker off; a rollback appears in the audit history of the version rolled back
(and of the one promoted back); an alias move that changes nothing is never applied nor recorded."""

from __future__ import annotations

import pytest

from mlopsadmin.audit.selectors import object_history
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.promotion import plans, services
from registry_ui.promotion.models import AliasEvent

pytestmark = pytest.mark.django_db

SCORES = [{"val_ndcg_at_10": 0.85}, {"val_ndcg_at_10": 0.86}, {"val_ndcg_at_10": 0.90}]


def test_promote_rolled_back_version_then_roll_back_again(make_model, personas) -> None:
    lead = personas["lead_search"]
    name = make_model(SCORES, aliases={"champion": 2}).name
    services.alias_promote(model_name=name, actor=lead, version="3")
    services.alias_rollback(model_name=name, actor=lead, reason="error rate up")
    assert mlf.get_registered_model(name).aliases == {"champion": "2", "rolled-back": "3"}

    services.alias_promote(model_name=name, actor=lead, version="3")  # fixed upstream: promoted again
    assert mlf.get_registered_model(name).aliases == {"champion": "3", "previous-champion": "2"}

    services.alias_rollback(model_name=name, actor=lead, reason="still wrong")
    assert mlf.get_registered_model(name).aliases == {"champion": "2", "rolled-back": "3"}

    events = AliasEvent.objects.filter(model_name=name)
    assert all(e.from_version != e.to_version for e in events), [str(e) for e in events]
    assert events.filter(action="promote", alias="rolled-back", from_version="3", to_version="").exists()

    rolled_back = [e.action for e in object_history("model_version", f"{name}/3")]
    promoted_back = [e.action for e in object_history("model_version", f"{name}/2")]
    assert rolled_back.count("model.rollback") >= 2, rolled_back  # intent and outcome events
    assert promoted_back.count("model.rollback") >= 2, promoted_back


def test_plans_never_contain_a_move_that_changes_nothing() -> None:
    rollback = plans.plan_rollback(
        {"champion": "3", "previous-champion": "2", "rolled-back": "3"}, reason="r", now_iso="t", actor_name="a"
    )
    assert [m.describe() for m in rollback.moves] == ["@champion: v3 → v2", "@previous-champion: v2 → (removed)"]
    promote = plans.plan_promote({"previous-champion": "2"}, "2")
    assert promote.after == {"champion": "2"}


ROLLBACK_TAGS = ("rollback_reason", "rolled_back_at", "rolled_back_by")


def test_promoting_a_rolled_back_version_again_clears_its_rollback_tags(make_model, personas) -> None:
    """A version promoted again after a rollback is no longer 'rolled back': its rollback tags leave MLflow
    (read back), and the promote event's tag changes say so."""
    lead = personas["lead_search"]
    name = make_model(SCORES, aliases={"champion": 2}).name
    services.alias_promote(model_name=name, actor=lead, version="3")
    services.alias_rollback(model_name=name, actor=lead, reason="error rate up")
    assert set(ROLLBACK_TAGS) <= set(mlf.get_model_version(name, "3").tags)

    result = services.alias_promote(model_name=name, actor=lead, version="3")

    assert not set(ROLLBACK_TAGS) & set(mlf.get_model_version(name, "3").tags)
    assert all(f"untag v3 {key}" in result.applied for key in ROLLBACK_TAGS), result.applied
    outcome = [e for e in object_history("model", name) if e.action == "model.promote" and e.outcome == "ok"][-1]
    assert all(f"untag v3 {key}" in outcome.after["applied"] for key in ROLLBACK_TAGS), outcome.after
