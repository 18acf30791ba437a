"""Promotion, rollback, gate, permissions, stale state, partial failure and repair against the real
MLflow server (each test creates its own model)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib import mlflow_support
from registry_ui.promotion import gate_reads, seams, selectors, services
from registry_ui.promotion.models import AliasEvent, GatePolicy


def aliases(name: str) -> dict[str, str]:
    return mlf.get_registered_model(name).aliases


def audit_actions(name: str) -> list[tuple[str, str]]:
    """Outcomes recorded for the model (each change also has its `pending` intent event before it)."""
    events = AuditEvent.objects.filter(target_id=name).exclude(outcome="pending").order_by("id")
    return [(e.action, e.outcome) for e in events]


def test_promote_and_rollback_sequence_gives_the_guide_states(make_model, personas) -> None:
    lead = personas["lead_search"]
    name = make_model([0.85, 0.86, 0.87])
    services.alias_make_challenger(model_name=name, version="1", actor=lead)
    services.alias_promote(model_name=name, actor=lead)
    assert aliases(name) == {"champion": "1"}

    services.alias_make_challenger(model_name=name, version="2", actor=lead)
    services.alias_promote(model_name=name, actor=lead)
    assert aliases(name) == {"champion": "2", "previous-champion": "1"}

    services.alias_make_challenger(model_name=name, version="3", actor=lead)
    assert aliases(name) == {"champion": "2", "previous-champion": "1", "challenger": "3"}
    result = services.alias_promote(model_name=name, actor=lead)
    assert aliases(name) == {"champion": "3", "previous-champion": "2"}
    assert result.gate["passed"] is True

    services.alias_rollback(model_name=name, actor=lead, reason="p95 latency doubled")
    assert aliases(name) == {"champion": "2", "rolled-back": "3"}
    tags = mlf.get_model_version(name, "3").tags
    assert tags["rollback_reason"] == "p95 latency doubled"
    assert tags["rolled_back_at"].endswith("Z")

    assert audit_actions(name) == [("model.alias_challenger", "ok"), ("model.promote", "ok")] * 3 + [
        ("model.rollback", "ok")
    ]
    history = selectors.alias_history(name)
    champion_moves = [(e.from_version, e.to_version) for e in reversed(history) if e.alias == "champion"]
    assert champion_moves == [("", "1"), ("1", "2"), ("2", "3"), ("3", "2")]
    assert history[0].actor_name == "lead_search"


def test_serving_code_loads_the_new_champion_right_after_promotion(make_model, personas) -> None:
    name = make_model([0.81, 0.93], aliases={"champion": 1, "challenger": 2}, pyfunc=True)
    assert list(mlflow_support.load_pyfunc(f"models:/{name}@champion").predict([[0.0]])) == [0.81]
    services.alias_promote(model_name=name, actor=personas["lead_search"])
    assert list(mlflow_support.load_pyfunc(f"models:/{name}@champion").predict([[0.0]])) == [0.93]
    services.alias_rollback(model_name=name, actor=personas["lead_search"], reason="bad canary")
    assert list(mlflow_support.load_pyfunc(f"models:/{name}@champion").predict([[0.0]])) == [0.81]


@pytest.mark.parametrize(
    ("scores", "failed_rule"),
    [
        ([0.85, None], "metric_present"),
        ([0.70, 0.79], "threshold"),
        ([0.90, 0.85], "no_regression"),
    ],
)
def test_each_metric_rule_blocks_promotion_on_its_own(make_model, personas, scores, failed_rule) -> None:
    name = make_model(scores, aliases={"champion": 1, "challenger": 2})
    with pytest.raises(services.GateFailed) as caught:
        services.alias_promote(model_name=name, actor=personas["lead_search"])
    assert [r.rule for r in caught.value.gate.failures] == [failed_rule]
    assert aliases(name) == {"champion": "1", "challenger": "2"}  # nothing moved
    assert audit_actions(name) == []


def test_missing_approval_blocks_when_the_policy_requires_it(make_model, personas) -> None:
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2}, approval_required=None)
    assert gate_reads.gate_config_for(name).require_approval  # the default policy
    with pytest.raises(services.GateFailed) as caught:
        services.alias_promote(model_name=name, actor=personas["lead_search"])
    assert [r.rule for r in caught.value.gate.failures] == ["approval"]
    assert caught.value.extra["reasons"] == ["The version is not approved, and this model's policy requires approval."]
    GatePolicy.objects.create(model_name=name, require_approval=False)
    services.alias_promote(model_name=name, actor=personas["lead_search"])
    assert aliases(name)["champion"] == "2"


def test_only_an_admin_overrides_a_failed_gate_and_it_is_audited(make_model, personas) -> None:
    name = make_model([0.90, 0.70], aliases={"champion": 1, "challenger": 2})
    with pytest.raises(PermissionDenied):
        services.alias_promote(model_name=name, actor=personas["lead_search"], override_reason="trust me")
    services.alias_promote(model_name=name, actor=personas["admin"], override_reason="hotfix for outage #42")
    assert aliases(name)["champion"] == "2"
    event = AuditEvent.objects.filter(target_id=name).exclude(outcome="pending").get()
    assert event.action == "model.promote_gate_override"
    assert event.reason == "hotfix for outage #42"
    assert event.after["gate_overridden"] is True and event.after["gate"]["passed"] is False


def test_protected_aliases_need_the_owning_teams_lead(make_model, personas) -> None:
    name = make_model([0.85, 0.86], aliases={"champion": 1})
    services.alias_make_challenger(model_name=name, version="2", actor=personas["member_search"])
    for who in ("member_search", "lead_fraud", "auditor", "operator"):
        with pytest.raises(PermissionDenied):
            services.alias_promote(model_name=name, actor=personas[who])
    with pytest.raises(PermissionDenied):
        services.alias_make_challenger(model_name=name, version="1", actor=personas["member_fraud"])
    assert aliases(name) == {"champion": "1", "challenger": "2"}


def test_a_stale_form_is_refused_with_the_new_state(make_model, personas) -> None:
    name = make_model([0.85, 0.86, 0.87], aliases={"champion": 1, "challenger": 2})
    seen = aliases(name)
    mlf.set_model_alias(name, "challenger", "3")  # someone else moved it meanwhile
    with pytest.raises(services.StaleAliases) as caught:
        services.alias_promote(model_name=name, actor=personas["lead_search"], expected=seen)
    assert "changed since you looked" in str(caught.value)
    assert caught.value.extra["aliases"] == {"champion": "1", "challenger": "3"}
    assert aliases(name) == {"champion": "1", "challenger": "3"}


def test_mlflow_failing_mid_move_is_reported_audited_as_partial_and_repairable(make_model, personas, settings) -> None:
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    live_uri = settings.MLFLOW_TRACKING_URI

    def mlflow_goes_down(step: int) -> None:
        if step == 1:  # after @previous-champion was set, before @champion moves
            settings.MLFLOW_TRACKING_URI = "http://127.0.0.1:9"

    seams.before_write.append(mlflow_goes_down)
    try:
        with pytest.raises(services.OutcomeUnknown) as caught:  # MLflow cannot be read back either
            services.alias_promote(model_name=name, actor=personas["lead_search"])
    finally:
        seams.before_write.remove(mlflow_goes_down)
        settings.MLFLOW_TRACKING_URI = live_uri
    assert caught.value.extra["outcome"] == "unknown"
    assert audit_actions(name) == [("model.promote", "unknown")]
    services.alias_reconcile(model_name=name)  # MLflow is back: the outcome is read and attributed
    assert aliases(name) == {"champion": "1", "previous-champion": "1", "challenger": "2"}
    event = AuditEvent.objects.filter(target_id=name).order_by("id").last()
    assert (event.action, event.outcome, event.actor_name) == ("model.promote", "partial", "lead_search")
    assert event.after["applied"] == ["@previous-champion: (none) → v1"]

    problems = selectors.alias_overview(name).problems
    assert problems == ["@champion and @previous-champion both point at v1."]
    services.alias_repair(model_name=name, actor=personas["lead_search"])
    assert aliases(name) == {"champion": "1", "challenger": "2"}
    assert selectors.alias_overview(name).problems == []


def test_external_alias_change_is_detected_by_reconciliation(make_model, personas) -> None:
    name = make_model([0.85, 0.86])
    services.alias_make_challenger(model_name=name, version="1", actor=personas["lead_search"])
    services.alias_promote(model_name=name, actor=personas["lead_search"])
    assert services.alias_reconcile(model_name=name).changes == 0

    mlf.set_model_alias(name, "champion", "2")  # directly in MLflow, bypassing mlopsadmin
    report = services.alias_reconcile()
    assert report.changes >= 1
    event = AliasEvent.objects.filter(model_name=name, source=AliasEvent.SOURCE_EXTERNAL).get()
    assert (event.alias, event.from_version, event.to_version) == ("champion", "1", "2")
    audit = AuditEvent.objects.filter(target_id=name, action="model.alias_external_change").get()
    assert audit.actor_name == "system:alias-reconcile"
    assert services.alias_reconcile(model_name=name).changes == 0  # recorded once


def test_reconcile_task_is_the_scheduled_name(make_model) -> None:
    from mlopsadmin.schedules import ENTRIES
    from registry_ui.tasks import alias_reconcile_scheduled

    assert any(e.task == alias_reconcile_scheduled.name for e in ENTRIES)
    name = make_model([0.85])
    result = alias_reconcile_scheduled(model_name=name)
    assert result["models_checked"] == 1


def test_db_lock_refuses_a_second_holder_until_released(db, settings) -> None:
    from mlopsadmin.core.errors import Conflict
    from registry_ui.promotion.locking import model_lock

    settings.REDIS_URL = ""
    with (
        model_lock("search-lock-test", wait=0),
        pytest.raises(Conflict, match="in progress"),
        model_lock("search-lock-test", wait=0.2),
    ):
        pass
    with model_lock("search-lock-test", wait=0):
        pass  # released: free again


def test_an_unknown_outcome_is_resolved_by_the_next_alias_change_of_the_model(make_model, personas, settings) -> None:
    """The next change reads the known state and, with it, whether the model has open intents (issue 20): an
    intent left open is resolved (read back and attributed) before the new change is planned."""
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    live_uri = settings.MLFLOW_TRACKING_URI

    def mlflow_goes_down(step: int) -> None:
        if step == 1:
            settings.MLFLOW_TRACKING_URI = "http://127.0.0.1:9"

    seams.before_write.append(mlflow_goes_down)
    try:
        with pytest.raises(services.OutcomeUnknown):
            services.alias_promote(model_name=name, actor=personas["lead_search"])
    finally:
        seams.before_write.remove(mlflow_goes_down)
        settings.MLFLOW_TRACKING_URI = live_uri
    services.alias_repair(model_name=name, actor=personas["lead_search"])  # no reconciliation in between
    assert aliases(name) == {"champion": "1", "challenger": "2"}
    promote = AuditEvent.objects.filter(target_id=name, action="model.promote").order_by("id").last()
    assert (promote.outcome, promote.after["applied"]) == ("partial", ["@previous-champion: (none) → v1"])
