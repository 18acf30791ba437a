"""Issue 19, "compare several versions (and runs) side by side": the comparison a user reads, built from
the real MLflow server: chosen metrics/params/tags, each metric's direction from configuration, the best
value marked, differences flagged, one overlaid chart per chosen metric from the full metric history."""

from __future__ import annotations

import time
import uuid

import pytest

from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.compare import selectors as compare
from tests.registry.compare_data import make_compared_model

pytestmark = pytest.mark.django_db


def _row(comparison: compare.Comparison, kind: str, key: str) -> compare.Row:
    return next(r for r in comparison.rows if r.kind == kind and r.key == key)


@pytest.mark.usefixtures("drift_is_lower_is_better")
def test_versions_side_by_side_best_by_configured_direction(mlflow) -> None:
    name, _ = make_compared_model()
    result = compare.compare_versions(model_name=name, versions=["1", "2", "3"])
    assert not result.problems
    assert [c.key for c in result.columns] == ["1", "2", "3"]
    assert result.columns[0].aliases == ["champion"]
    ndcg = _row(result, "metric", "val_ndcg_at_10")
    assert ndcg.direction == "higher" and [c.best for c in ndcg.cells] == [False, True, False]
    loss = _row(result, "metric", "train_loss")
    assert loss.direction == "lower" and [c.best for c in loss.cells] == [False, False, True]
    drift = _row(result, "metric", "drift_score")  # from configuration, not from its name
    assert drift.direction == "lower" and [c.best for c in drift.cells] == [True, False, False]
    assert _row(result, "param", "learning_rate").differs
    assert not _row(result, "param", "batch_size").differs
    assert _row(result, "tag", "note").differs and not _row(result, "tag", "owner").differs
    assert [r.key for r in result.rows if r.kind == "metric"][0] == "val_ndcg_at_10"  # the gate metric first
    charts = {c.metric: c for c in result.charts}
    assert set(charts) == {"val_ndcg_at_10"}  # train_loss and drift_score were logged once per run: no chart
    assert result.single_value_metrics == ["drift_score", "train_loss"]
    assert [s.label for s in charts["val_ndcg_at_10"].chart.series] == ["v1 @champion", "v2", "v3"]
    assert charts["val_ndcg_at_10"].points == 30 and charts["val_ndcg_at_10"].last_step == 9


@pytest.mark.usefixtures("drift_is_lower_is_better")
def test_chosen_rows_only_and_unknown_names_said(mlflow) -> None:
    name, _ = make_compared_model()
    result = compare.compare_versions(
        model_name=name, versions=["3", "1"], metrics=["train_loss"], params=["learning_rate"], tags=[]
    )
    assert [(r.kind, r.key) for r in result.rows] == [("metric", "train_loss"), ("param", "learning_rate")]
    assert result.charts == [] and result.single_value_metrics == ["train_loss"]
    assert [c.key for c in result.columns] == ["3", "1"]  # in the order chosen
    assert "val_ndcg_at_10" in result.available.metrics and "owner" in result.available.tags

    unknown = compare.compare_versions(model_name=name, versions=["1", "99"])
    assert unknown.problems == [f"{name} has no version 99."]
    assert [c.key for c in unknown.columns] == ["1"]


def test_bad_selection_is_a_clear_problem_not_an_error(mlflow) -> None:
    name, run_ids = make_compared_model((0.8, 0.81))
    assert compare.compare_versions(model_name=name, versions=["1"]).problems == [
        "Pick at least two versions to compare."
    ]
    assert compare.compare_versions(model_name=name, versions=["x1"]).problems[0] == "Not a model version number: 'x1'."
    too_many = compare.compare_versions(model_name=name, versions=[str(v) for v in range(1, 12)])
    assert too_many.problems[0] == f"Compare at most {compare.MAX_COLUMNS} at a time (11 chosen)."
    runs = compare.compare_runs(run_ids=[run_ids[0], "not-a-run", "0" * 32])
    assert runs.problems == ["'not-a-run' is not a run id.", f"No run {'0' * 32} in MLflow."]
    assert [c.key for c in runs.columns] == [run_ids[0]]
    with pytest.raises(InvalidInput):
        compare.parse_run_ids("a" * 40_000)


@pytest.mark.usefixtures("drift_is_lower_is_better")
def test_runs_side_by_side_across_experiments(mlflow) -> None:
    _, first = make_compared_model((0.8, 0.9))
    _, other = make_compared_model((0.85,))
    result = compare.compare_runs(run_ids=[*first, *other])
    assert [c.key for c in result.columns] == [*first, *other]
    ndcg = _row(result, "metric", "val_ndcg_at_10")
    assert [c.best for c in ndcg.cells] == [False, True, False]
    assert _row(result, "metric", "drift_score").direction == "lower"
    assert [s.label for s in next(c for c in result.charts if c.metric == "val_ndcg_at_10").chart.series] == [
        "train-0",
        "train-1",
        "train-0 (2)",
    ]


def test_metric_history_is_read_to_its_last_page(mlflow) -> None:
    """MLflow answers metric history in pages of 25,000 points: the chart (thinned for drawing) ends at the
    run's last step, and the point count is the whole history."""
    experiment_id = mlf.create_experiment(f"/search-team/compare-tests/long-{uuid.uuid4().hex[:8]}")
    now = int(time.time() * 1000)
    long_run = mlf.create_run(experiment_id, run_name="long")
    for start in range(0, 25_010, 1000):
        batch = [("val_loss", 1.0 / (s + 1), now + s, s) for s in range(start, min(start + 1000, 25_010))]
        mlf.log_batch(long_run, metrics=batch)
    short_run = mlf.create_run(experiment_id, run_name="short")
    mlf.log_batch(short_run, metrics=[("val_loss", 0.5 - s * 0.1, now + s, s) for s in range(3)])
    assert len(mlf.get_metric_history(long_run, "val_loss")) == 25_010
    chart = compare.compare_runs(run_ids=[long_run, short_run], metrics=["val_loss"]).charts[0]
    assert chart.points == 25_010 + 3 and chart.last_step == 25_009
    drawn = [seg.count(",") for s in chart.chart.series for seg in s.segments]
    assert max(drawn) <= compare.MAX_CHART_POINTS  # the line is thinned for drawing, its ends kept
    assert "25009" in chart.chart.series[0].points[-1].tip  # the last point drawn is the last step
