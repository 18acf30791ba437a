"""Case 5 of issue 16: each metric has a direction (by name, configurable), used by the comparison's
colours, the chart and the gate; a gate on a lower-is-better metric works (real MLflow server)."""

from __future__ import annotations

import re

import pytest

from configuration.selectors import clear_caches
from registry_ui.metric_direction import HIGHER, LOWER, metric_direction
from registry_ui.promotion.gate import GateConfig, rule_no_regression
from registry_ui.promotion.models import GatePolicy

pytestmark = pytest.mark.django_db


def _row(html: str, metric: str) -> str:
    html = html[html.index('class="grid comparison"') :]
    found = re.search(rf"<tr[^>]*><td><code>{re.escape(metric)}</code>.*?</tr>", html, re.S)
    assert found, f"no comparison row for {metric}"
    return found.group(0)


def test_comparison_colours_follow_each_metric_direction(make_model, login) -> None:
    made = make_model(
        [{"val_ndcg_at_10": 0.85, "train_loss": 0.34}, {"val_ndcg_at_10": 0.86, "train_loss": 0.38}],
        aliases={"champion": 1},
    )
    html = login("lead_search").get(f"/registry/models/{made.name}/versions/2/").content.decode()
    loss = _row(html, "train_loss")
    assert "+11.76 %" in loss and "pill-critical" in loss and "pill-ok" not in loss  # worse loss: red
    assert "pill-ok" in _row(html, "val_ndcg_at_10")
    chart = login("lead_search").get(f"/registry/models/{made.name}/versions/2/", {"chart": "1"}).content.decode()
    assert "val_ndcg_at_10 (higher is better)" in chart  # the chart's axis (the chart is loaded after the page)


def test_gate_on_a_lower_is_better_metric(make_model, api) -> None:
    made = make_model(
        [{"val_rmse": 0.40}, {"val_rmse": 0.39}, {"val_rmse": 0.45}],
        aliases={"champion": 1},
        approval_required=None,
    )
    GatePolicy.objects.create(model_name=made.name, metric="val_rmse", threshold=0.5, require_approval=False)
    client = api("lead_search")
    worse = client.post(f"/api/v1/models/{made.name}/promote", {"version": "3"}, content_type="application/json")
    assert worse.status_code == 422, worse.content
    assert [r for r in worse.json()["gate"]["rules"] if r["status"] == "fail"][0]["rule"] == "no_regression"
    assert "12.50% above champion v1" in " ".join(worse.json()["reasons"])
    better = client.post(f"/api/v1/models/{made.name}/promote", {"version": "2"}, content_type="application/json")
    assert better.status_code == 200, better.content


def test_default_directions_by_name_and_settings(settings) -> None:
    lower = ["train_loss", "val_rmse", "error_rate", "p95_latency_ms", "valMAE", "log_loss", "wer"]
    assert {m: metric_direction(m) for m in lower} == dict.fromkeys(lower, LOWER)
    higher = ["val_ndcg_at_10", "accuracy", "auc", "neg_log_loss", "f1", "recall_at_5"]
    assert {m: metric_direction(m) for m in higher} == dict.fromkeys(higher, HIGHER)
    settings.METRICS_LOWER_IS_BETTER = ["drift"]
    settings.METRICS_HIGHER_IS_BETTER = ["error_budget_left"]
    clear_caches()  # the lists are read at most every few seconds per process (configuration.selectors)
    assert metric_direction("feature_drift") == LOWER
    assert metric_direction("error_budget_left") == HIGHER
    assert metric_direction("train_loss", "higher") == HIGHER  # a gate policy's explicit choice wins


def test_more_lower_is_better_names_by_default() -> None:
    """Rates of mistakes, times and divergences are lower-is-better whatever their spelling."""
    lower = ["false_positive_rate", "false_negatives", "miss_rate", "inference_time", "train_time_s",
             "kl_divergence", "psi_drift"]  # fmt: skip
    assert {m: metric_direction(m) for m in lower} == dict.fromkeys(lower, LOWER)
    higher = ["true_positive_rate", "throughput", "fps", "uptime", "precision_at_5"]
    assert {m: metric_direction(m) for m in higher} == dict.fromkeys(higher, HIGHER)


@pytest.mark.parametrize(
    ("direction", "champion", "candidate", "said"),
    [
        ("lower", 0.0, 0.05, "0.0500 above champion v1 (0.0000)"),
        ("higher", 0.0, -0.4, "0.4000 below champion v1 (0.0000)"),
    ],
)
def test_regression_against_a_zero_champion_is_not_called_zero_percent(direction, champion, candidate, said) -> None:
    """A champion at exactly 0 allows no worsening at all (the allowance is relative); the reason says by
    how much the candidate is worse, never '0.00%'."""
    config = GateConfig(metric="m", threshold=-10.0 if direction == "higher" else 10.0, max_drop_pct=2.0,
                        require_approval=False, direction=direction)  # fmt: skip
    result = rule_no_regression(config, candidate, champion, "1")
    assert result.status == "fail"
    assert said in result.message and "0.00%" not in result.message, result.message


def test_common_lower_is_better_abbreviations_and_units_only_as_units() -> None:
    """Break-test of case 5's defaults: negative log-likelihood (`val_nll`), FID, calibration error (ECE),
    equal error rate, bits per dimension and the forecasting errors (MASE, RMSSE, CRPS, weighted quantile
    loss) are lower-is-better; a unit word (`ms`, `seconds`) makes a name lower-is-better only as a unit
    (`p95_ms`, `ms_per_step`), not as another word: MS MARCO's MRR@10 is higher-is-better."""
    lower = ["val_nll", "fid", "fid_50k", "test_ece", "eer", "val_bpd", "mase", "val_rmsse", "crps", "wql",
             "p95_ms", "ms_per_step", "seconds_per_epoch", "step_time_ms"]  # fmt: skip
    assert {m: metric_direction(m) for m in lower} == dict.fromkeys(lower, LOWER)
    higher = ["ms_marco_mrr_at_10", "msmarco_ndcg", "ms_coco_map"]
    assert {m: metric_direction(m) for m in higher} == dict.fromkeys(higher, HIGHER)
