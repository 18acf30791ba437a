"""Issue 19 case 7: one chart module for every chart (mlopsadmin/core/charts.py). Ticks are round numbers
evenly spaced ("nice numbers"), the y axis ends on ticks that cover the data, labels carry just the digits
the step needs; byte axes start at 0 and top at a round size in its unit (never "1 B"); a single sample is
a labelled value; an unknown value is a gap, never drawn as 0 (issue 15's rule)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mlopsadmin.core.charts import line_chart, nice_ticks

MB = 1024**2
GB = 1024**3
T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


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
    (series,) = chart.series
    assert len(series.segments) == 1 and len(series.points) == 10


def test_byte_axis_starts_at_zero_and_tops_at_a_round_size_in_its_unit() -> None:
    samples = [(T0 + timedelta(days=d), size) for d, size in enumerate([700 * MB, 900 * MB, 1.3 * GB])]
    chart = line_chart([("s3://bucket", "series-0", samples)], x_kind="time", y_kind="bytes")
    assert [t.label for t in chart.y_ticks] == ["0 B", "0.5 GB", "1.0 GB", "1.5 GB"]
    assert [t.label for t in chart.x_ticks] == ["Nov 26", "Nov 27"]  # round days inside the data


def test_an_empty_or_tiny_store_does_not_top_at_one_byte() -> None:
    chart = line_chart([("empty", "series-0", [(T0, 0), (T0 + timedelta(hours=6), 0)])], x_kind="time", y_kind="bytes")
    assert chart.y_ticks[-1].label != "1 B" and chart.y_ticks[-1].label.endswith("KB")
    small = line_chart([("tiny", "series-0", [(T0, 300), (T0 + timedelta(hours=6), 700)])], y_kind="bytes")
    assert [t.label for t in small.y_ticks] == ["0 B", "200 B", "400 B", "600 B", "800 B"]


def test_a_single_sample_is_a_labelled_value() -> None:
    chart = line_chart([("search", "series-0", [(T0, 1288490189)])], x_kind="time", y_kind="bytes")
    (series,) = chart.series
    assert series.segments == []  # no line to draw …
    (point,) = series.points
    assert point.label == "1.2 GB"  # … the value itself, written next to its dot
    assert [t.label for t in chart.x_ticks] == ["2026-11-25 06:00 UTC"]
    assert chart.y_ticks[-1].label == "1.5 GB" and chart.y_ticks[0].label == "0 B"


def test_unknown_values_are_gaps_not_zero() -> None:
    nan = float("nan")
    samples = [
        (T0, 100 * MB),
        (T0 + timedelta(days=1), None),
        (T0 + timedelta(days=2), 120 * MB),
        (T0 + timedelta(days=3), nan),
    ]
    chart = line_chart([("store", "series-0", samples)], x_kind="time", y_kind="bytes")
    (series,) = chart.series
    assert series.unknown == 2
    assert len(series.points) == 2  # the known ones
    bottom = chart.plot_height
    assert all(p.y < bottom - 1 for p in series.points)  # nothing drawn on the 0 line
    assert series.segments == []  # two known samples separated by an unknown: no line across the gap
    assert "2 unknown" in series.legend


def test_capacity_series_keeps_unknown_samples(db) -> None:  # type: ignore[no-untyped-def]
    from maintenance.models import CapacitySample
    from maintenance.selectors import capacity_series

    for day, size in enumerate([5 * MB, None, 7 * MB]):
        CapacitySample.objects.create(
            scope="store", key="s3://b", label="s3://b", size_bytes=size, measured_at=T0 + timedelta(days=day)
        )
    assert [size for _, size in capacity_series(scope="store")["s3://b"]] == [5 * MB, None, 7 * MB]


def test_axis_labels_stay_short_for_huge_and_tiny_values() -> None:
    """Break-test: a metric reaching 1e12 over 4,000,000 steps was labelled '1000000000000' and '4000000':
    on a 390 px phone the y labels were cut off at the left edge and the x labels ran into each other
    ('30000004000000'); a metric of 1e-9 got ten decimals. Labels now use k/M/G/T or an exponent."""
    huge = line_chart([("v1", "series-0", [(0, 0.0), (4_000_000, 1e12)])], x_label="step")
    assert [t.label for t in huge.y_ticks] == ["0", "250G", "500G", "750G", "1T"]
    assert [t.label for t in huge.x_ticks] == ["0", "1M", "2M", "3M", "4M"]
    assert huge.series[0].points[-1].tip.endswith(": 1e+12")  # the hover text too
    tiny = line_chart([("v1", "series-0", [(0, 0.0), (1, 1e-9)])])
    assert all(len(t.label) <= 7 for t in tiny.y_ticks), [t.label for t in tiny.y_ticks]
    assert tiny.y_ticks[-1].label == "1e-09"
    usual = line_chart([("v1", "series-0", [(0, 0.652), (9, 0.84)])])
    assert [t.label for t in usual.y_ticks] == ["0.65", "0.70", "0.75", "0.80", "0.85"]  # unchanged
    assert usual.series[0].points[-1].tip.endswith(": 0.8400")


def test_hover_texts_keep_the_exact_step() -> None:
    chart = line_chart([("long", "series-0", [(0, 1.0), (25_009, 2.0)])], x_label="step")
    assert chart.series[0].points[-1].tip == "long · 25009: 2.0000"  # the tick says 25k, the point its step
    assert chart.x_ticks[-1].label.endswith("k")
