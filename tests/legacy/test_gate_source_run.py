"""Case 3 of issue 16: the gate rule "source run exists and is active". A version whose source run is
soft-deleted (the next gc removes it) or purged is not promoted, with that reason, and the version page
shows the rule."""

from __future__ import annotations

import os
import time
import uuid

import pytest
from django.conf import settings

from mlopsadmin.lib import mlflow_client as mlf

pytestmark = pytest.mark.django_db


def _promote(api, name: str, version: str):  # type: ignore[no-untyped-def]
    return api("lead_search").post(
        f"/api/v1/models/{name}/promote", {"version": version}, content_type="application/json"
    )


def test_deleted_then_purged_source_run_blocks_promotion_with_its_reason(make_model, api, login) -> None:
    made = make_model([{"val_ndcg_at_10": 0.85}, {"val_ndcg_at_10": 0.90}], aliases={"champion": 1})
    mlf.delete_run(made.run_ids[1])

    refused = _promote(api, made.name, "2")
    assert refused.status_code == 422, refused.content
    reasons = refused.json()["reasons"]
    assert any(f"source run {made.run_ids[1]} is deleted" in r for r in reasons), reasons
    assert mlf.get_registered_model(made.name).aliases == {"champion": "1"}

    page = login("lead_search").get(f"/registry/models/{made.name}/versions/2/")
    assert page.status_code == 200
    assert b'data-rule="source_run"' in page.content and b"is deleted (soft)" in page.content

    store = os.environ.get("MLOPSADMIN_TEST_MLFLOW_STORE") or settings.MLFLOW_BACKEND_STORE_URI
    done = mlf.purge_runs(store, [made.run_ids[1]])
    assert done.hard_deleted == [made.run_ids[1]], done
    refused = _promote(api, made.name, "2")
    assert refused.status_code == 422
    reasons = refused.json()["reasons"]
    assert any("no longer exists in MLflow (purged)" in r for r in reasons), reasons
    assert not any("has no metric" in r for r in reasons), reasons


def test_active_source_run_passes_the_rule(make_model, api) -> None:
    made = make_model([{"val_ndcg_at_10": 0.85}, {"val_ndcg_at_10": 0.90}], aliases={"champion": 1})
    done = _promote(api, made.name, "2")
    assert done.status_code == 200, done.content
    rules = {r["rule"]: r["status"] for r in done.json()["gate"]["rules"]}
    assert rules["source_run"] == "pass"


def test_active_run_in_a_deleted_experiment_blocks_promotion(make_model, api, login) -> None:
    """MLflow lets a run be restored while its experiment stays deleted; garbage collection still removes
    the experiment with every run in it, so the rule fails and names the experiment."""
    made = make_model([{"val_ndcg_at_10": 0.85}], aliases={"champion": 1})
    experiment_id = mlf.create_experiment(f"/search-team/legacy-deleted/{uuid.uuid4().hex[:8]}")
    run_id = mlf.create_run(experiment_id)
    mlf.log_batch(run_id, metrics=[("val_ndcg_at_10", 0.9, int(time.time() * 1000), 0)])
    mlf.set_terminated(run_id)
    mlf.create_model_version(made.name, source=f"runs:/{run_id}/model", run_id=run_id)
    mlf.delete_experiment(experiment_id)
    mlf.restore_run(run_id)
    assert mlf.get_run(run_id).lifecycle_stage == "active" and mlf.get_experiment(experiment_id).is_deleted

    refused = _promote(api, made.name, "2")
    assert refused.status_code == 422, refused.content
    reasons = refused.json()["reasons"]
    assert any(f"experiment {experiment_id}" in r and "deleted" in r for r in reasons), reasons
    assert mlf.get_registered_model(made.name).aliases == {"champion": "1"}
    page = login("lead_search").get(f"/registry/models/{made.name}/versions/2/")
    assert f"experiment {experiment_id}".encode() in page.content


@pytest.mark.parametrize("gone", ["run", "experiment"])
def test_a_rollback_never_puts_champion_on_a_run_gc_removes(make_model, api, login, gone) -> None:
    """Break-test of case 3: the rule held for promote only. Rolling back to @previous-champion whose source
    run (or its experiment) was deleted meanwhile answered 200 and @champion rested on a run the next
    garbage collection removes. The rollback is refused with the rule's reason, in the dialog too, and
    nothing moves."""
    made = make_model([{"val_ndcg_at_10": 0.85}, {"val_ndcg_at_10": 0.90}], aliases={"champion": 1})
    client = api("lead_search")
    promoted = client.post(f"/api/v1/models/{made.name}/promote", {"version": "2"}, content_type="application/json")
    assert promoted.status_code == 200, promoted.content
    if gone == "run":
        mlf.delete_run(made.run_ids[0])
    else:  # v1's run in an experiment of its own, deleted
        experiment_id = mlf.create_experiment(f"/search-team/legacy-tests/gone-{uuid.uuid4().hex[:8]}")
        run_id = mlf.create_run(experiment_id)
        mlf.create_model_version(made.name, source=f"runs:/{run_id}/model", run_id=run_id)  # v3
        mlf.set_model_alias(made.name, "previous-champion", 3)
        mlf.delete_experiment(experiment_id)
    before = mlf.get_registered_model(made.name).aliases
    refused = client.post(
        f"/api/v1/models/{made.name}/rollback", {"reason": "v2 is bad"}, content_type="application/json"
    )
    assert refused.status_code == 422, refused.content
    assert "garbage collection removes" in refused.json()["detail"], refused.content
    assert mlf.get_registered_model(made.name).aliases == before
    dialog = login("lead_search").get(f"/registry/models/{made.name}/aliases/confirm/rollback/")
    assert b"garbage collection removes" in dialog.content
