"""The compare API (issue 19 leftover: comparing was a page only): the compare page's table as JSON for
notebooks and CI, same rules: each metric's direction and best value, params and tags, rows that differ;
a pick that cannot be compared is refused with 400 naming every reason."""

from __future__ import annotations

import math

import pytest
from django.test import Client

from mlopsadmin.core.services import api_token_create
from mlopsadmin.lib import mlflow_client as mlf
from tests.registry.compare_data import make_compared_model

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("drift_is_lower_is_better")]


@pytest.fixture
def auditor_api(personas, mlflow) -> Client:  # type: ignore[no-untyped-def]
    """A read-only token of the auditor: comparing changes nothing, so every signed-in role may."""
    _, raw = api_token_create(actor="system:issue_token", user=personas["auditor"], name="nb", read_only=True)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_versions_side_by_side_as_json(auditor_api) -> None:
    name, run_ids = make_compared_model()
    answer = auditor_api.get(f"/api/v1/registry/models/{name}/compare", {"v": ["3", "1"]})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert [(c["key"], c["run_id"], c["aliases"]) for c in body["columns"]] == [
        ("3", run_ids[2], []),
        ("1", run_ids[0], ["champion"]),
    ]
    rows = {(r["kind"], r["key"]): r for r in body["rows"]}
    assert body["gate_metric"] == "val_ndcg_at_10" and body["rows"][0]["key"] == "val_ndcg_at_10"
    gate = rows[("metric", "val_ndcg_at_10")]
    assert gate["direction"] == "higher" and gate["values"] == [0.83, 0.8] and gate["best"] == [True, False]
    drift = rows[("metric", "drift_score")]  # lower is better by the configuration
    assert drift["direction"] == "lower" and drift["best"] == [False, True] and drift["differs"]
    assert rows[("param", "batch_size")]["values"] == ["64", "64"] and not rows[("param", "batch_size")]["differs"]
    assert rows[("tag", "note")]["values"] == ["try 2", "try 0"]

    chosen = auditor_api.get(f"/api/v1/registry/models/{name}/compare", {"v": ["1", "2"], "metric": "train_loss"})
    assert [(r["kind"], r["key"]) for r in chosen.json()["rows"] if r["kind"] == "metric"] == [("metric", "train_loss")]


def test_runs_side_by_side_and_non_finite_values(auditor_api) -> None:
    _, run_ids = make_compared_model((0.8, 0.9))
    mlf.log_batch(run_ids[1], metrics=[("odd", math.nan, 0, 0)])
    mlf.log_batch(run_ids[0], metrics=[("odd", math.inf, 0, 0)])
    answer = auditor_api.get("/api/v1/registry/runs/compare", {"run": run_ids})
    assert answer.status_code == 200, answer.content
    assert [c["key"] for c in answer.json()["columns"]] == run_ids
    odd = next(r for r in answer.json()["rows"] if r["key"] == "odd")
    assert odd["values"] == ["Infinity", "NaN"]  # valid JSON, never a bare NaN


def test_bad_picks_are_refused_with_every_reason(auditor_api) -> None:
    name, run_ids = make_compared_model((0.8, 0.9))
    url = f"/api/v1/registry/models/{name}/compare"
    cases = [
        (["1"], "Pick at least two versions"),
        (["1", "abc"], "Not a model version number: 'abc'"),
        (["1", "99"], f"{name} has no version 99"),
        ([str(n) for n in range(1, 11)], "Compare at most 8"),
    ]
    for versions, said in cases:
        answer = auditor_api.get(url, {"v": versions})
        assert answer.status_code == 400 and said in answer.json()["detail"], (versions, answer.content)
    assert auditor_api.get(url).status_code in (400, 422)  # no version at all
    missing = auditor_api.get("/api/v1/registry/models/no-such-model-xyz/compare", {"v": ["1", "2"]})
    assert missing.status_code == 404 and "no-such-model-xyz" in missing.json()["detail"]
    runs = auditor_api.get("/api/v1/registry/runs/compare", {"run": [run_ids[0], "f" * 32, "nonsense"]})
    assert runs.status_code == 400
    assert "'nonsense' is not a run id." in runs.json()["detail"] and f"No run {'f' * 32}" in runs.json()["detail"]
    assert auditor_api.get(url, {"v": ["1", "2"], "metric": "a\x00b"}).status_code == 400
    assert Client().get(url, {"v": ["1", "2"]}).status_code == 401
