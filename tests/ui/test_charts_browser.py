"""Issue 19 case 7 in a real browser at 1440 and 390 px: chart text is at least 11 px on screen, x labels do
not overlap, the capacity axis ends on a round size with its unit, a single sample shows its value, an
unknown sample is a gap (said in the legend), version charts have regular ticks; no sideways scroll."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.ui.conftest import page_overflow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": 1440, "phone": 390}
GB = 1024**3

# every chart text: rendered size (font size × the SVG's scale) and box; x labels of each chart
MEASURE = """() => [...document.querySelectorAll('figure.chart')].map(fig => ({
  sizes: [...fig.querySelectorAll('svg text')].map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a),
  x: [...fig.querySelectorAll('svg.chart-plot .axis text')].map(t => { const b = t.getBoundingClientRect();
        return [b.left, b.right, t.textContent]; }),
  y: [...fig.querySelectorAll('svg.chart-y text')].map(t => t.textContent),
  values: [...fig.querySelectorAll('text.value')].map(t => t.textContent),
  legend: fig.querySelector('.chart-legend').innerText,
}))"""


def _check_legible(charts: list[dict]) -> None:  # type: ignore[type-arg]
    for chart in charts:
        assert chart["sizes"] and min(chart["sizes"]) >= 11, chart["sizes"]
        boxes = sorted(chart["x"])
        for (_, right, a), (left, _, b) in zip(boxes, boxes[1:], strict=False):
            assert right <= left + 0.5, f"x labels {a!r} and {b!r} overlap"


def _capacity_samples() -> None:
    from maintenance.models import CapacitySample

    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    days = [now - timedelta(days=d) for d in (3, 2, 1, 0)]
    CapacitySample.objects.create(scope="total", key="total", size_bytes=int(1.3 * GB), measured_at=now)
    for moment, size in zip(days, [int(0.7 * GB), None, int(1.1 * GB), int(1.3 * GB)], strict=True):
        CapacitySample.objects.create(
            scope="store", key="s3://ml", label="s3://ml", size_bytes=size, measured_at=moment
        )
    CapacitySample.objects.create(scope="team", key="search", label="search", size_bytes=1288490189, measured_at=now)
    for moment, size in zip(days[2:], [180 * 1024**2, 190 * 1024**2], strict=True):
        CapacitySample.objects.create(
            scope="database", key="db", label="mlflow db", size_bytes=size, measured_at=moment
        )


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_capacity_charts_are_legible_with_units_values_and_gaps(browser_login, live_server, shoot, width) -> None:  # type: ignore[no-untyped-def]
    _capacity_samples()
    page = browser_login("operator")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/maintenance/")
    charts = page.evaluate(MEASURE)
    assert len(charts) == 3
    _check_legible(charts)
    store, team, database = charts
    assert store["y"][-1] == "1.5 GB" and store["y"][0] == "0 B"  # was "1 B" at the top
    assert "1 unknown" in store["legend"]
    assert team["values"] == ["1.2 GB"]  # one sample: its value, not a lone dot
    assert database["y"][-1] == "200 MB"
    assert page_overflow(page) <= 0
    page.locator("figure.chart").first.scroll_into_view_if_needed()
    shoot(page, f"maintenance-capacity-charts-{width}")


def _model_with_histories(metric: str) -> str:
    from mlopsadmin.lib import mlflow_client as mlf

    name = f"search-charts-{uuid.uuid4().hex[:8]}"
    mlf.create_registered_model(name)
    experiment = mlf.get_experiment_by_name("/search-team/charts") or None
    experiment_id = experiment.experiment_id if experiment else mlf.create_experiment("/search-team/charts")
    now = int(time.time() * 1000)
    for start in (0.61, 0.652):
        run_id = mlf.create_run(experiment_id, run_name=name)
        mlf.log_batch(run_id, metrics=[(metric, start + step * 0.0209, now + step, step) for step in range(10)])
        mlf.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id)
        mlf.set_terminated(run_id)
    mlf.set_model_alias(name, "champion", "1")
    return name


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_version_chart_has_regular_ticks_and_legible_text(browser_login, live_server, mlflow, shoot, width) -> None:  # type: ignore[no-untyped-def]
    from configuration.selectors import gate_default

    name = _model_with_histories(str(gate_default()["metric"]))
    page = browser_login("lead_search")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/registry/models/{name}/versions/2/")
    page.wait_for_selector("#comparison-chart figure.chart")  # read from MLflow after the page (issue 20)
    (chart,) = page.evaluate(MEASURE)
    _check_legible([chart])
    assert [label for _, _, label in sorted(chart["x"])] == ["0", "2", "4", "6", "8"]
    values = [float(v) for v in chart["y"]]
    steps = {round(b - a, 9) for a, b in zip(values, values[1:], strict=False)}
    assert len(steps) == 1 and values[0] <= 0.61 and values[-1] >= 0.84  # even, round, covering the data
    assert page.locator("figure.chart polyline").count() == 2
    assert page_overflow(page) <= 0
    page.locator("figure.chart").scroll_into_view_if_needed()
    shoot(page, f"registry-version-chart-{width}")
