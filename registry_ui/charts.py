"""Server-side SVG line charts (pure): turn (step, value) series into coordinates a template draws
with <polyline>; no JavaScript, no inline styles (colours come from CSS classes)."""

from __future__ import annotations

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


def _ticks(low: float, high: float, count: int) -> list[float]:
    if high == low:
        return [low]
    return [low + (high - low) * i / (count - 1) for i in range(count)]


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.4g}"


def line_chart(
    series: list[tuple[str, str, list[tuple[float, float]]]],
    *,
    width: int = 640,
    height: int = 260,
    x_label: str = "",
    y_label: str = "",
) -> LineChart:
    """series: (label, css class, [(x, y), …]). Axes span all points; a flat series gets a small band."""
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
    x_tick_values = sorted({round(v) for v in _ticks(x_min, x_max, min(6, int(x_max - x_min) + 1))})
    return LineChart(
        width=width,
        height=height,
        left=left,
        top=top,
        plot_width=plot_w,
        plot_height=plot_h,
        x_ticks=[Tick(sx(v), _fmt(v)) for v in x_tick_values],
        y_ticks=[Tick(sy(v), f"{v:.3f}") for v in _ticks(y_min, y_max, 5)],
        series=drawn,
        x_label=x_label,
        y_label=y_label,
    )
