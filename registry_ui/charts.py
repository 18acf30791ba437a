"""Server-side SVG line charts (pure): turn (step, value) series into coordinates a template draws
with <polyline>; no JavaScript, no inline styles (colours come from CSS classes)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Series:
    label: str
    css_class: str
    points: str  # "x,y x,y …" for <polyline points>
    dots: list[tuple[float, float, str]]  # x, y, tooltip
    legend_y: float


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    series: list[Series]
    x_label: str
    y_label: str

    @property
    def bottom(self) -> int:
        return self.top + self.plot_height

    @property
    def right(self) -> int:
        return self.left + self.plot_width


def nice_step(span: float, count: int) -> float:
    """A round tick step (1, 2, 2.5 or 5 × 10^n) giving about `count` ticks over `span` > 0."""
    raw = span / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def nice_ticks(low: float, high: float, count: int = 5, *, integers: bool = False) -> tuple[list[float], float]:
    """Evenly spaced round ticks covering [low, high] (axis "nice numbers": 0.60, 0.65, 0.70 … or 0, 2,
    4 …), and the step. `integers`: steps of at least 1 (training steps). high > low."""
    step = nice_step(high - low, count)
    if integers:
        step = max(1.0, math.ceil(step))
    first = math.floor(low / step + 1e-9) * step
    ticks = [round(first, 12)]
    while ticks[-1] < high - step * 1e-9:
        ticks.append(round(first + step * len(ticks), 12))
    return ticks, step


def _decimals(step: float) -> int:
    """Digits after the point that tell ticks `step` apart (0.05 → 2, 2.5 → 1, 10 → 0)."""
    for digits in range(0, 10):
        if abs(round(step, digits) - step) < step * 1e-6:
            return digits
    return 10


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.4g}"


def line_chart(
    series: Sequence[tuple[str, str, Sequence[tuple[float, float]]]],
    *,
    width: int = 640,
    height: int = 260,
    x_label: str = "",
    y_label: str = "",
) -> LineChart:
    """series: (label, css class, [(x, y), …]). The y axis spans all points, widened to round tick
    values (nice numbers); x ticks are round steps inside the data; a flat series gets a small band."""
    left, top, right_pad, bottom_pad = 64, 16, 150, 40
    plot_w, plot_h = width - left - right_pad, height - top - bottom_pad
    xs = [x for _, _, pts in series for x, _ in pts]
    ys = [y for _, _, pts in series for _, y in pts]
    x_min, x_max = (min(xs), max(xs)) if xs else (0.0, 1.0)
    y_min, y_max = (min(ys), max(ys)) if ys else (0.0, 1.0)
    if x_max == x_min:
        x_max = x_min + 1
    if y_max == y_min:
        pad = abs(y_min) * 0.05 or 0.5
        y_min, y_max = y_min - pad, y_max + pad
    y_values, y_step = nice_ticks(y_min, y_max, 5)
    y_min, y_max = y_values[0], y_values[-1]  # the axis ends on round values
    x_values, _ = nice_ticks(x_min, x_max, 6, integers=True)
    x_values = [v for v in x_values if x_min <= v <= x_max]
    y_digits = _decimals(y_step)

    def sx(x: float) -> float:
        return round(left + (x - x_min) / (x_max - x_min) * plot_w, 1)

    def sy(y: float) -> float:
        return round(top + plot_h - (y - y_min) / (y_max - y_min) * plot_h, 1)

    drawn = []
    for index, (label, css_class, points) in enumerate(series):
        ordered = sorted(points)
        drawn.append(
            Series(
                label=label,
                css_class=css_class,
                points=" ".join(f"{sx(x)},{sy(y)}" for x, y in ordered),
                dots=[(sx(x), sy(y), f"{label} step {_fmt(x)}: {y:.4f}") for x, y in ordered],
                legend_y=top + 14 + index * 18,
            )
        )
    return LineChart(
        width=width,
        height=height,
        left=left,
        top=top,
        plot_width=plot_w,
        plot_height=plot_h,
        x_ticks=[Tick(sx(v), _fmt(v)) for v in x_values],
        y_ticks=[Tick(sy(v), f"{v:.{y_digits}f}") for v in y_values],
        series=drawn,
        x_label=x_label,
        y_label=y_label,
    )
