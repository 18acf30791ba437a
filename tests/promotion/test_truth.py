"""The record equals what MLflow did, under faults injected into a real MLflow server (a proxy that
slows writes or freezes right after a write was committed) and a private Redis killed mid-change.

For each: the caller is told the truth, MLflow's final aliases equal the last audit event's, no 5xx,
and every move is attributed to the person who asked for it (never to "outside mlopsadmin")."""

from __future__ import annotations

import json
import math
import time

import pytest
from django.urls import reverse

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from notifications.models import DeliveryState, Notification
from registry_ui.promotion import seams, services
from registry_ui.promotion.models import AliasEvent, GatePolicy

from ..faults import FaultProxy, frozen, private_broker, private_redis


def strict_json(raw: bytes) -> object:
    """Parse as JSON proper: a bare NaN/Infinity (Python's json extension) fails the test."""

    def refuse(constant: str) -> object:
        raise AssertionError(f"{constant} in a JSON answer")

    return json.loads(raw, parse_constant=refuse)


def events(name: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(target_id=name).order_by("id"))


def aliases(name: str) -> dict[str, str]:
    return dict(mlf.get_registered_model(name).aliases)


@pytest.mark.parametrize("lost_write", [1, 2])
def test_a_lost_write_answer_is_unknown_then_attributed_to_the_promotion(
    make_model, login, settings, fast_timeouts, lost_write
) -> None:
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    client = login("lead_search")
    live = settings.MLFLOW_TRACKING_URI
    with FaultProxy(live) as proxy:
        settings.MLFLOW_TRACKING_URI = proxy.url
        proxy.freeze_after_writes = lost_write  # MLflow commits that write, then stops answering
        response = client.post(f"/api/v1/models/{name}/promote", data={}, content_type="application/json")
        proxy.thaw()
    settings.MLFLOW_TRACKING_URI = live
    body = strict_json(response.content)
    assert response.status_code == 503, body
    assert body["outcome"] == "unknown" and "unknown" in body["detail"]
    assert [(e.action, e.outcome) for e in events(name)] == [("model.promote", "pending"), ("model.promote", "unknown")]
    assert events(name)[0].after["planned"][0] == "@previous-champion: (none) → v1"

    services.alias_reconcile()  # MLflow answers again: the schedule resolves the unknown outcome
    final = events(name)[-1]
    assert (final.action, final.outcome, final.actor_name) == ("model.promote", "partial", "lead_search")
    assert final.after["aliases"] == aliases(name)
    assert not AuditEvent.objects.filter(target_id=name, action="model.alias_external_change").exists()
    moves = AliasEvent.objects.filter(model_name=name).exclude(source=AliasEvent.SOURCE_BASELINE)
    assert moves.count() == lost_write and {m.actor_name for m in moves} == {"lead_search"}
    services.alias_reconcile(model_name=name)
    assert events(name)[-1].id == final.id  # resolved once; nothing left to attribute


def test_a_write_applied_after_the_read_back_is_not_reported_as_simply_failed(
    make_model, login, settings, fast_timeouts
) -> None:
    """The first alias write reaches MLflow only after the caller gave up and read back (a slow write, applied
    from the backlog). Before: 503 "not applied ... recorded as 'failed'. Try again." while @previous-champion
    then moved; the record was corrected later, but the caller was told a plain failure to retry."""
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    client = login("lead_search")
    live = settings.MLFLOW_TRACKING_URI
    with FaultProxy(live) as proxy:
        settings.MLFLOW_TRACKING_URI = proxy.url
        proxy.write_delay = 2.5  # the 2 s gateway timeout passes first
        response = client.post(f"/api/v1/models/{name}/promote", data={}, content_type="application/json")
        time.sleep(1)  # the held write lands now
    settings.MLFLOW_TRACKING_URI = live
    body = strict_json(response.content)
    assert response.status_code == 503 and body["outcome"] == "failed", body  # type: ignore[index]
    assert body["may_still_apply"] is True and "may still apply it late" in body["detail"]  # type: ignore[index]
    assert "Try again." not in body["detail"]  # type: ignore[index]
    assert aliases(name)["previous-champion"] == "1"  # it did land
    services.alias_reconcile(model_name=name)
    final = events(name)[-1]
    assert (final.action, final.outcome, final.actor_name) == ("model.promote", "partial", "lead_search")
    assert final.after["aliases"] == aliases(name)
    assert not AuditEvent.objects.filter(target_id=name, action="model.alias_external_change").exists()


def test_slow_mlflow_rollback_ends_within_the_deadline_and_records_what_mlflow_shows(
    make_model, login, settings, fast_timeouts
) -> None:
    name = make_model([0.85, 0.86], aliases={"champion": 2, "previous-champion": 1})
    settings.PROMOTION_DEADLINE_SECONDS = 6
    client = login("lead_search")
    live = settings.MLFLOW_TRACKING_URI
    with FaultProxy(live) as proxy:
        settings.MLFLOW_TRACKING_URI = proxy.url
        proxy.write_delay = 1.5  # each write just under the 2 s gateway timeout: 6 writes need 9 s
        start = time.monotonic()
        response = client.post(
            f"/api/v1/models/{name}/rollback", data={"reason": "slow canary"}, content_type="application/json"
        )
        elapsed = time.monotonic() - start
    settings.MLFLOW_TRACKING_URI = live
    body = strict_json(response.content)
    assert elapsed < settings.PROMOTION_DEADLINE_SECONDS, elapsed
    assert response.status_code == 502 and body["outcome"] == "partial", body
    assert body["not_applied"] and "deadline" in body["detail"]
    final = events(name)[-1]
    assert (final.action, final.outcome) == ("model.rollback", "partial")
    assert final.after["aliases"] == aliases(name) == body["aliases"]
    tags = mlf.get_model_version(name, "2").tags
    assert [t for t in ("rollback_reason", "rolled_back_at", "rolled_back_by") if t in tags] == [
        label.split()[-1] for label in final.after["applied"] if label.startswith("tag ")
    ]


def test_the_action_deadline_is_shorter_than_the_lock_ttl(settings) -> None:
    from mlopsadmin.core.checks import check_action_deadline

    assert check_action_deadline(None) == []
    settings.PROMOTION_DEADLINE_SECONDS = settings.PROMOTION_LOCK_TTL_SECONDS
    assert [m.id for m in check_action_deadline(None)] == ["mlopsadmin.E009"]


def test_nan_champion_metric_is_not_comparable_and_an_override_is_recorded(make_model, login) -> None:
    name = make_model([float("nan"), 0.70], aliases={"champion": 1, "challenger": 2})
    refused = login("lead_search").post(f"/api/v1/models/{name}/promote", data={}, content_type="application/json")
    body = strict_json(refused.content)
    assert refused.status_code == 422
    rules = {r["rule"]: r for r in body["gate"]["rules"]}
    assert rules["no_regression"]["status"] == "pass" and "not a finite number" in rules["no_regression"]["message"]
    promoted = login("admin").post(
        f"/api/v1/models/{name}/promote", data={"override_reason": "hotfix"}, content_type="application/json"
    )
    assert promoted.status_code == 200, promoted.content
    strict_json(promoted.content)
    assert aliases(name)["champion"] == "2"
    final = events(name)[-1]
    assert (final.action, final.outcome) == ("model.promote_gate_override", "ok")
    assert final.after["aliases"] == aliases(name)


def test_a_non_finite_candidate_metric_fails_the_gate_saying_so(make_model, personas) -> None:
    name = make_model([0.85, math.inf], aliases={"champion": 1, "challenger": 2})
    with pytest.raises(services.GateFailed) as caught:
        services.alias_promote(model_name=name, actor=personas["lead_search"])
    assert [r.rule for r in caught.value.gate.failures] == ["metric_present"]
    assert "not a finite number" in caught.value.gate.failures[0].message
    strict_json(json.dumps(caught.value.extra).encode())


@pytest.mark.parametrize("value", ["nan", "1e400", "-inf"])
def test_gate_policy_inputs_must_be_finite(make_model, login, value) -> None:
    name = make_model([0.85])
    response = login("lead_search").post(
        reverse("promotion:gate_policy", args=[name]),
        {"metric": "val_ndcg_at_10", "threshold": value, "max_drop_pct": "2"},
    )
    assert response.status_code == 400 and b"finite" in response.content
    assert GatePolicy.objects.get(model_name=name).threshold == 0.80


@pytest.mark.redis
def test_redis_lost_while_holding_the_lock_still_reports_the_promotion(make_model, login, settings) -> None:
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    client = login("lead_search")
    with private_redis() as (url, process):
        settings.REDIS_URL = url

        def redis_dies(step: int) -> None:
            if step == 0:
                process.kill()
                process.wait(10)

        seams.before_write.append(redis_dies)
        try:
            response = client.post(f"/api/v1/models/{name}/promote", data={}, content_type="application/json")
        finally:
            seams.before_write.remove(redis_dies)
    assert response.status_code == 200, response.content
    assert aliases(name) == {"champion": "2", "previous-champion": "1"}
    assert events(name)[-1].outcome == "ok"


@pytest.mark.redis
@pytest.mark.timeout(120)
def test_a_frozen_redis_refuses_a_promotion_clearly(make_model, login, settings) -> None:
    """Redis stopped (SIGSTOP) rather than killed: it accepts the connection and never answers. Before:
    redis-py's TimeoutError (no ConnectionError) escaped the lock: HTML 500."""
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    client = login("lead_search")
    with private_redis() as (url, process):
        settings.REDIS_URL = url
        with frozen(process):
            response = client.post(f"/api/v1/models/{name}/promote", data={}, content_type="application/json")
    assert response.status_code == 503, response.content
    assert "Redis" in strict_json(response.content)["detail"]  # type: ignore[index]
    assert aliases(name) == {"champion": "1", "challenger": "2"}
    assert not events(name)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_a_frozen_broker_does_not_hold_a_promotion(make_model, login, settings, monkeypatch) -> None:
    """A promotion queues one notification per recipient after it is recorded. With the broker frozen
    (SIGSTOP) each publish waited forever (before), or a socket timeout each without the fail-fast: the
    change was made and audited, yet the web worker was killed (HTML 500)."""
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    settings.NOTIFY_EMAILS = ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]
    client = login("lead_search")
    with private_broker(monkeypatch) as (_, process), frozen(process):
        started = time.monotonic()
        response = client.post(f"/api/v1/models/{name}/promote", data={}, content_type="application/json")
        took = time.monotonic() - started
    assert response.status_code == 200, response.content
    assert took < 20, took
    assert aliases(name)["champion"] == "2" and events(name)[-1].outcome == "ok"
    waiting = Notification.objects.filter(model_name=name, state=DeliveryState.PENDING)
    assert waiting.count() >= 4  # recorded; the requeue sweep sends them when the queue is back
