"""Issue 20: a promotion makes the MLflow calls a user makes (read the aliases, three alias writes) plus ONE
live re-check of the gate's inputs (both source runs in one request) sent beside the alias read; the
experiment's state and the candidate's tags come from the registry index unless it cannot stand in for them;
its gate still judges what MLflow shows now (counted requests, not timings)."""

from __future__ import annotations

import time
from collections import Counter

import pytest
import requests

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import index_store
from registry_ui.approvals.imports import approvals_import
from registry_ui.promotion import services
from tests.promotion.conftest import METRIC

pytestmark = pytest.mark.django_db

BY_HAND = {"approved_by": "jane.doe", "approval_date": "2026-03-05"}


@pytest.fixture
def mlflow_requests(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every HTTP request the gateway sends, as 'METHOD /endpoint'."""
    sent: Counter[str] = Counter()
    original = requests.Session.request

    def counting(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent[f"{method} {url.split('/api/2.0/mlflow', 1)[-1]}"] += 1
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", counting)
    return sent


def test_a_promotion_sends_the_bare_calls_and_one_re_check_beside_them(make_model, personas, mlflow_requests) -> None:
    """Before: four reads beside each other (runs, experiment, version tags, aliases) on a 2-worker server."""
    lead = personas["lead_search"]
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    index_store.model_refresh(name)  # the index names both source runs
    services.alias_reconcile(model_name=name)
    mlflow_requests.clear()
    result = services.alias_promote(model_name=name, actor=lead)
    assert result.outcome == "ok" and result.after == {"champion": "2", "previous-champion": "1"}
    assert mlflow_requests == Counter(
        {
            "GET /registered-models/get": 1,  # the live aliases, under the lock
            "POST /runs/search": 1,  # both source runs, beside it: the one re-check
            "POST /registered-models/alias": 2,
            "DELETE /registered-models/alias": 1,
        }
    ), mlflow_requests
    assert mlf.get_registered_model(name).aliases == {"champion": "2", "previous-champion": "1"}


def test_the_gate_sees_a_source_run_deleted_after_the_index_read_it(make_model, personas) -> None:
    lead = personas["lead_search"]
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    index_store.model_refresh(name)
    candidate_run = mlf.get_model_version(name, "2").run_id
    mlf.delete_run(candidate_run)
    with pytest.raises(services.GateFailed) as refused:
        services.alias_promote(model_name=name, actor=lead)
    assert "deleted" in str(refused.value)
    assert mlf.get_registered_model(name).aliases == {"champion": "1", "challenger": "2"}
    mlf.restore_run(candidate_run)


def test_aliases_moved_since_the_index_saw_them_are_the_ones_promoted(make_model, personas) -> None:
    """The index still says @challenger is v2; MLflow says v3 (set directly): v3 is gated and promoted."""
    lead = personas["lead_search"]
    name = make_model([0.85, 0.86, 0.70], aliases={"champion": 1, "challenger": 2})
    index_store.model_refresh(name)
    mlf.set_model_alias(name, "challenger", 3)
    with pytest.raises(services.GateFailed) as refused:  # v3's 0.70 is below the threshold and the champion
        services.alias_promote(model_name=name, actor=lead)
    assert refused.value.gate.candidate_version == "3"
    mlf.set_model_alias(name, "challenger", 2)
    result = services.alias_promote(model_name=name, actor=lead)
    assert result.gate is not None and result.gate["candidate_version"] == "2" and result.gate["passed"]


def test_a_metric_logged_after_the_index_read_it_is_the_one_gated(make_model, personas) -> None:
    """The index says the candidate's metric is 0.86; MLflow now has 0.70 (logged since): refused on 0.70."""
    lead = personas["lead_search"]
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    index_store.model_refresh(name)
    run_id = mlf.get_model_version(name, "2").run_id
    mlf.log_batch(run_id, metrics=[(METRIC, 0.70, int(time.time() * 1000) + 1000, 1)])
    with pytest.raises(services.GateFailed) as refused:
        services.alias_promote(model_name=name, actor=lead)
    assert "0.7000" in str(refused.value)
    assert mlf.get_registered_model(name).aliases == {"champion": "1", "challenger": "2"}


def test_an_imported_approval_whose_tags_went_after_the_index_read_them_no_longer_counts(
    make_model, personas, mlflow_requests
) -> None:
    """@challenger's tags come from the index, but an approval imported from tags is judged on MLflow's tags
    now: removed since the index and the import read them, the approval no longer stands."""
    lead = personas["lead_search"]
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2}, approval_required=True)
    for key, value in BY_HAND.items():
        mlf.set_model_version_tag(name, "2", key, value)
    approvals_import(model_name=name)
    index_store.model_refresh(name)
    for key in BY_HAND:
        mlf.delete_model_version_tag(name, "2", key)
    mlflow_requests.clear()
    with pytest.raises(services.GateFailed) as refused:
        services.alias_promote(model_name=name, actor=lead)
    rule = next(r for r in refused.value.gate.rules if r.rule == "approval")
    assert rule.failed and "no longer stands" in rule.message, rule
    assert mlflow_requests["GET /model-versions/get"] == 1  # read because the approval rests on them
    assert mlf.get_registered_model(name).aliases == {"champion": "1", "challenger": "2"}


def test_a_version_deleted_after_the_index_read_it_is_not_promoted(make_model, personas) -> None:
    """v3 is named by no alias: the index knows it, MLflow no longer has it. Nothing is written."""
    lead = personas["lead_search"]
    name = make_model([0.85, 0.86, 0.87], aliases={"champion": 1})
    index_store.model_refresh(name)
    mlf.delete_model_version(name, "3")
    with pytest.raises(mlf.MlflowNotFound):
        services.alias_promote(model_name=name, actor=lead, version="3")
    assert mlf.get_registered_model(name).aliases == {"champion": "1"}
    assert not AuditEvent.objects.filter(action="model.promote", target_id=name).exists()


def test_a_promotion_starts_no_thread_of_its_own(make_model, personas, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its MLflow reads go out on the gateway's long-lived pool: no thread is started and joined per promotion
    (issue 20: each start and join waits on the scheduler, which a busy machine turns into the overhead's tail)."""
    import threading

    lead = personas["lead_search"]
    name = make_model([0.85, 0.86, 0.87], aliases={"champion": 1, "challenger": 2})
    index_store.model_refresh(name)
    services.alias_promote(model_name=name, actor=lead)  # the pool's threads exist from now on
    mlf.set_model_alias(name, "challenger", 3)
    index_store.model_refresh(name)
    started: list[str] = []
    original = threading.Thread.start

    def counting(self: threading.Thread) -> None:
        started.append(self.name)
        original(self)

    monkeypatch.setattr(threading.Thread, "start", counting)
    result = services.alias_promote(model_name=name, actor=lead)
    assert result.outcome == "ok" and result.after == {"champion": "3", "previous-champion": "2"}
    assert started == [], started
