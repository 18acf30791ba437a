"""Server-side SVG growth charts (no JavaScript, no inline styles: presentation attributes only)."""

from __future__ import annotations

from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from mlopsadmin.core.formatting import human_bytes

PALETTE = ["#2f6fdf", "#d9822b", "#2e9d5b", "#c2413b", "#7b52c7", "#2a9aa8", "#8a6d3b", "#5c6b7a"]


def growth_svg(
    series: dict[str, list[tuple[datetime, int]]], *, title: str, width: int = 640, height: int = 220
) -> SafeString:
    """One line per key; x = time, y = bytes. Empty series → a short note."""
    points = [p for values in series.values() for p in values]
    if not points:
        return mark_safe(f'<p class="muted">No samples yet for {escape(title)}.</p>')
    left, right, top, bottom = 70, 10, 20, 30
    t0 = min(p[0] for p in points).timestamp()
    t1 = max(p[0] for p in points).timestamp()
    vmax = max(max(p[1] for p in points), 1)
    span = max(t1 - t0, 1.0)

    def x(ts: datetime) -> float:
        return left + (ts.timestamp() - t0) / span * (width - left - right) if t1 > t0 else (width + left) / 2

    def y(value: int) -> float:
        return top + (1 - value / vmax) * (height - top - bottom)

    rows = (len(series) + 2) // 3
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height + rows * 16 + 4}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#c5ccd6"/>',
        f'<text x="4" y="{top + 4}" font-size="11" fill="#5c6b7a">{escape(human_bytes(vmax))}</text>',
        f'<text x="4" y="{height - bottom}" font-size="11" fill="#5c6b7a">0</text>',
        f'<text x="{left}" y="{height - 8}" font-size="11" fill="#5c6b7a">'
        f"{escape(min(p[0] for p in points).strftime('%Y-%m-%d'))}</text>",
        f'<text x="{width - right}" y="{height - 8}" font-size="11" fill="#5c6b7a" text-anchor="end">'
        f"{escape(max(p[0] for p in points).strftime('%Y-%m-%d %H:%M'))}</text>",
    ]
    for index, (label, values) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in values)
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"/>')
        for t, v in values[-1:]:
            parts.append(
                f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
                f"<title>{escape(label)}: {escape(human_bytes(v))}</title></circle>"
            )
        parts.append(
            f'<text x="{left + (index % 3) * 190}" y="{height + 12 + (index // 3) * 16}" font-size="12" '
            f'fill="{color}">■ {escape(label[:28])}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))
