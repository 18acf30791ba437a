"""Issue 20: a promotion makes the MLflow calls a user makes (read the aliases, three alias writes) plus the
reads its plan and gate need (the candidate's tags, both source runs in one request, the candidate run's
experiment), sent beside the alias read; its gate still judges what MLflow shows now (counted requests, not
timings)."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import index_store
from registry_ui.promotion import services

pytestmark = pytest.mark.django_db


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


def test_a_promotion_sends_the_bare_calls_and_the_gate_reads_beside_them(make_model, personas, mlflow_requests) -> None:
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
            "POST /runs/search": 1,  # both source runs, beside it
            "GET /experiments/get": 1,  # the candidate run's experiment (gc removes a deleted one), beside it
            "GET /model-versions/get": 1,  # the candidate's tags (its plan, the imported-approval rule), beside it
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
