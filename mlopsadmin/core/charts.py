"""Server-side line charts, the one chart module of the product (capacity growth, metric histories).

Pure: turns series into positions that `templates/charts/line.html` draws as SVG, with no JavaScript and
no inline styles (colours come from CSS classes). Text is drawn at its real pixel size at every width:
the plot is an <svg> without a viewBox whose horizontal positions are percentages and vertical ones
pixels, the lines sit in a nested, stretched <svg> with non-scaling strokes, and the y labels have their
own fixed-width <svg>. So an 11 px label stays 11 px on a 390 px phone and on a 1440 px screen.

Axes use "nice numbers" (1, 2, 2.5, 5 × 10^n steps). Byte axes start at 0 and step in the unit of their
top (0, 0.5, 1.0, 1.5 GB). Time axes put ticks on round UTC hours or days. A value that is None, NaN or
±inf is unknown: a gap in the line, counted in the legend, never drawn as 0 (issue 15's rule). A series
with a single known value is drawn as that value, written next to its dot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mlopsadmin.core.formatting import human_bytes, is_finite_number

HEIGHT = 220  # px, the whole chart (plot + x labels)
PLOT_HEIGHT = 190  # px
PAD_TOP = 14  # px kept free above the top tick (its label, a value label)
X_FROM, X_TO = 3.0, 97.0  # % of the plot's width the data spans (labels at the edges stay inside)
LINE_UNITS = 1000  # width of the stretched line layer's viewBox
MAX_DOTS = 40  # points per series drawn as dots (with a tooltip); longer series show their last one
BYTE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")
TIME_STEPS = [timedelta(hours=h) for h in (1, 2, 3, 6, 12)] + [timedelta(days=d) for d in (1, 2, 7, 14, 30, 91)]


@dataclass(frozen=True)
class Tick:
    position: float  # x: % of the plot's width; y: px from the plot's top
    label: str
    anchor: str = "middle"  # text-anchor of an x label: start / middle / end


@dataclass(frozen=True)
class Point:
    x: float  # % of the plot's width
    y: float  # px from the plot's top
    tip: str  # the tooltip: series, x and value
    label: str = ""  # written next to the dot (a single sample's value)


@dataclass(frozen=True)
class Series:
    label: str
    css_class: str
    segments: list[str]  # "x,y x,y …" in the line layer's units, one per unbroken run of known values
    points: list[Point]  # the dots
    unknown: int = 0  # values not known (None, NaN, ±inf): gaps

    @property
    def legend(self) -> str:
        return self.label + (f" ({self.unknown} unknown, not drawn)" if self.unknown else "")


@dataclass(frozen=True)
class LineChart:
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    series: list[Series]
    x_label: str = ""
    y_label: str = ""
    title: str = ""
    height: int = HEIGHT
    plot_height: int = PLOT_HEIGHT
    line_units: int = LINE_UNITS
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(s.points for s in self.series)


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


SI_SUFFIXES = ((12, "T"), (9, "G"), (6, "M"), (3, "k"))
COMPACT_FROM = 1e4  # axis values from 10,000 on are written 10k, 2.5M, 1T (they fit a 390 px phone)
TINY_BELOW = 1e-3  # steps smaller than this are written with an exponent (1e-09), never ten decimals


def _number(value: float) -> str:
    """A step or other x value as it is (hover texts: 25009, not 25k)."""
    return f"{value:.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.4g}"


def _axis_labels(values: Sequence[float], step: float) -> list[str]:
    """Tick labels with just the digits `step` needs: 0.65, 0.70 … as before; when a tick reaches
    COMPACT_FROM, each in its SI unit (250G, 500G, 750G, 1T; from 10^15 an exponent); for steps below
    TINY_BELOW an exponent (2.5e-10)."""
    largest = max((abs(v) for v in values), default=0.0)
    if largest >= COMPACT_FROM:
        return [_si(v) for v in values]
    if 0 < step < TINY_BELOW:
        return ["0" if v == 0 else f"{v:.3g}" for v in values]
    return [f"{v:.{_decimals(step)}f}" for v in values]


def _si(value: float) -> str:
    """250000000000 → 250G, 1e12 → 1T, 2500000 → 2.5M, 1500 → 1.5k; from 10^15 on an exponent."""
    if abs(value) >= 1e15:
        return f"{value:.3g}"
    power, suffix = next(((p, s) for p, s in SI_SUFFIXES if abs(value) >= 10**p), (0, ""))
    return f"{value / 10.0**power:.3g}{suffix}"


def _value_text(value: float) -> str:
    """A metric value in a hover text or beside a single dot: 0.8400 as before; huge or tiny ones 1e+12."""
    if value == 0 or TINY_BELOW <= abs(value) < COMPACT_FROM * 10:
        return f"{value:.4f}"
    return f"{value:.4g}"


def _byte_ticks(top: float) -> tuple[list[float], list[str]]:
    """0 … a round size covering `top` bytes, labelled in the unit of the top (0 B, 0.5 GB, 1.0 GB)."""
    top = top or 1024.0  # an empty store still gets a readable axis (0 B … 1 KB), never "0 B … 1 B"
    power = min(int(math.log(top, 1024)), len(BYTE_UNITS) - 1)
    unit = 1024.0**power
    values, step = nice_ticks(0.0, top / unit, 5, integers=power == 0)  # no fractions of a byte
    digits = _decimals(step)
    labels = ["0 B" if v == 0 else f"{v:.{digits}f} {BYTE_UNITS[power]}" for v in values]
    if power and values[-1] >= 1024:  # 1,024 MB reads better as 1.0 GB: one unit up
        return _byte_ticks(values[-1] * unit * 1.0001)
    return [v * unit for v in values], labels


def _time_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Round UTC moments inside [low, high] (POSIX seconds), at most 4 (they fit a phone), and their
    labels: "Nov 27" on a day axis; on an hour axis "Nov 27 06:00" first, then "12:00"."""
    span = high - low
    step = next((s for s in TIME_STEPS if span / s.total_seconds() <= 3), TIME_STEPS[-1])
    seconds = step.total_seconds()
    first = math.ceil(low / seconds - 1e-9) * seconds
    ticks = [first + seconds * n for n in range(int((high - first) // seconds + 1e-9) + 1)]
    moments = [datetime.fromtimestamp(t, tz=UTC) for t in ticks]
    if step >= timedelta(days=1):
        return ticks, [m.strftime("%b %d") for m in moments]
    return ticks, [m.strftime("%b %d %H:%M" if n == 0 else "%H:%M") for n, m in enumerate(moments)]


def _known(value: Any) -> bool:
    return value is not None and not isinstance(value, bool) and is_finite_number(value)


def _x_value(x: Any) -> float:
    return x.timestamp() if isinstance(x, datetime) else float(x)


def _x_text(x: float, x_kind: str) -> str:
    if x_kind == "time":
        return datetime.fromtimestamp(x, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    return _number(x)


def line_chart(
    series: Sequence[tuple[str, str, Sequence[tuple[Any, Any]]]],
    *,
    x_kind: str = "number",
    y_kind: str = "number",
    x_label: str = "",
    y_label: str = "",
    title: str = "",
) -> LineChart:
    """series: (label, css class, [(x, y), …]); x a number (steps: integer ticks) or, with
    x_kind="time", an aware datetime; y a number, or None/NaN/±inf when unknown. y_kind="bytes": a
    zero-based axis in byte units; "number": the data's range widened to round ticks."""
    known = [(_x_value(x), float(y)) for _, _, pts in series for x, y in pts if _known(y)]
    xs = [x for x, _ in known] or [0.0, 1.0]
    ys = [y for _, y in known] or [0.0, 1.0]
    x_min, x_max = min(xs), max(xs)
    if y_kind == "bytes":
        y_values, y_labels = _byte_ticks(max(ys))
    else:
        y_min, y_max = min(ys), max(ys)
        if y_max == y_min:
            pad = abs(y_min) * 0.05 or 0.5
            y_min, y_max = y_min - pad, y_max + pad
        y_values, y_step = nice_ticks(y_min, y_max, 5)
        y_labels = _axis_labels(y_values, y_step)
    y_low, y_high = y_values[0], y_values[-1]

    def sx(x: float) -> float:  # % of the plot's width
        if x_max == x_min:
            return 50.0
        return round(X_FROM + (x - x_min) / (x_max - x_min) * (X_TO - X_FROM), 2)

    def sy(y: float) -> float:  # px from the plot's top
        return round(PAD_TOP + (1 - (y - y_low) / (y_high - y_low)) * (PLOT_HEIGHT - PAD_TOP), 1)

    if x_max == x_min:
        x_ticks = [Tick(50.0, _x_text(x_min, x_kind))]
    else:
        if x_kind == "time":
            values, labels = _time_ticks(x_min, x_max)
        else:
            values, x_step = nice_ticks(x_min, x_max, 6, integers=True)
            values = [v for v in values if x_min <= v <= x_max]
            labels = (
                _axis_labels(values, x_step) if max(map(abs, values)) >= COMPACT_FROM else list(map(_number, values))
            )
        x_ticks = [
            Tick(sx(v), text, "start" if sx(v) < 12 else "end" if sx(v) > 88 else "middle")
            for v, text in zip(values, labels, strict=True)
        ]
    fmt_y = human_bytes if y_kind == "bytes" else _value_text
    drawn = []
    for label, css_class, points in series:
        ordered = sorted(((_x_value(x), y) for x, y in points), key=lambda p: p[0])
        runs: list[list[tuple[float, float]]] = [[]]
        for x, y in ordered:
            if _known(y):
                runs[-1].append((x, float(y)))
            elif runs[-1]:
                runs.append([])
        good = [p for run in runs for p in run]
        single = len(good) == 1
        shown = good if len(good) <= MAX_DOTS else good[-1:]
        drawn.append(
            Series(
                label=label,
                css_class=css_class,
                segments=[
                    " ".join(f"{sx(x) * LINE_UNITS / 100:.1f},{sy(y)}" for x, y in run) for run in runs if len(run) > 1
                ],
                points=[
                    Point(sx(x), sy(y), f"{label} · {_x_text(x, x_kind)}: {fmt_y(y)}", fmt_y(y) if single else "")
                    for x, y in shown
                ],
                unknown=len(ordered) - len(good),
            )
        )
    return LineChart(
        x_ticks=x_ticks,
        y_ticks=[Tick(sy(v), text) for v, text in zip(y_values, y_labels, strict=True)],
        series=drawn,
        x_label=x_label,
        y_label=y_label,
        title=title,
    )
