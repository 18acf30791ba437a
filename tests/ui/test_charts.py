"""Issue 19 case 7 (registry charts): ticks are round numbers evenly spaced ("nice numbers"), the y axis
ends on ticks that cover the data, and labels carry just the digits the step needs."""

from __future__ import annotations

import pytest

from registry_ui.charts import line_chart, nice_ticks


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(0.652, 0.84, [0.65, 0.7, 0.75, 0.8, 0.85]), (0, 1, [0, 0.25, 0.5, 0.75, 1]), (3, 97, [0, 25, 50, 75, 100])],
)
def test_nice_ticks_are_round_even_and_cover_the_data(low: float, high: float, expected: list[float]) -> None:
    ticks, step = nice_ticks(low, high, 5)
    assert ticks == pytest.approx(expected)
    assert ticks[0] <= low and ticks[-1] >= high
    assert all(b - a == pytest.approx(step) for a, b in zip(ticks, ticks[1:], strict=False))


def test_step_chart_ticks_were_irregular_now_even() -> None:
    points = [(step, 0.652 + step * 0.0209) for step in range(10)]  # 0 … 9, 0.652 … 0.840
    chart = line_chart([("candidate v2", "series-candidate", points)], x_label="step")
    assert [t.label for t in chart.x_ticks] == ["0", "2", "4", "6", "8"]  # was 0, 2, 4, 5, 7, 9
    assert [t.label for t in chart.y_ticks] == ["0.65", "0.70", "0.75", "0.80", "0.85"]  # was 0.652, 0.699 …
    gaps = [b.position - a.position for a, b in zip(chart.y_ticks, chart.y_ticks[1:], strict=False)]
    assert max(gaps) - min(gaps) < 0.2  # evenly spaced on screen
