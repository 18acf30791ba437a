"""Human-readable values shared by pages, probes and alerts."""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def human_bytes(value: int | float | None) -> str:
    if value is None:
        return "unknown"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def showing(shown: int, total: int, noun: str) -> str:
    """'' when all `total` items are shown, else "showing N of M <noun>": the one wording for a list that
    holds only part of its items (issue 15: no report truncates a list without saying so)."""
    return "" if shown >= total else f"showing {shown:,} of {total:,} {noun}"


def capped_lines(lines: list[str], limit: int, noun: str, *, total: int | None = None) -> list[str]:
    """The first `limit` of `lines`, then a "showing N of M <noun>" line when some were left out (`total`:
    how many there are when the caller holds only some of them)."""
    kept = lines[:limit]
    note = showing(len(kept), len(lines) if total is None else max(total, len(lines)), noun)
    return [*kept, f"… {note}"] if note else kept


def is_finite_number(value: float | None) -> bool:
    """False for None, NaN and ±inf, and for ±sys.float_info.max (how MLflow's SQL stores keep ±inf)."""
    return value is not None and math.isfinite(value) and abs(value) < sys.float_info.max


def json_number(value: float | None) -> float | str | None:
    """A number safe for JSON (responses, JSONFields, exports, charts): NaN and ±inf become the strings
    "NaN", "Infinity", "-Infinity" (MLflow's own spelling in its REST API), never a bare NaN token."""
    if value is None or is_finite_number(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float replaced as by `json_number` (dicts, lists and tuples walked)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float):
        return json_number(value)
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


class CsvLines:
    """Streams CSV lines (`line(cells)` returns one line) with every cell passed through `csv_cell`."""

    def __init__(self) -> None:
        self._writer = csv.writer(_Echo())

    def line(self, cells: Iterable[Any]) -> str:
        return str(self._writer.writerow([csv_cell(cell) for cell in cells]))


def csv_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula (OWASP CSV injection): a
    text starting with = + - @ tab or CR gets a leading apostrophe (and so does one starting with an
    apostrophe, so `csv_cell_value` restores every text exactly). Numbers are left as they are."""
    if isinstance(value, str) and value.startswith((*CSV_FORMULA_START, "'")):
        return "'" + value
    return value


def csv_cell_value(text: str) -> str:
    """The original text of a cell written by `csv_cell` (for reading an export back)."""
    return text[1:] if text.startswith("'") else text


def ms_datetime(ms: int | float | str | None) -> datetime | None:
    """An MLflow timestamp (milliseconds since the epoch; clients may send any integer) as an aware UTC
    datetime; None when unset or not a date Python can hold (e.g. microseconds sent as milliseconds, year
    58,000): such a value is shown as unknown, never a crash of the page or task that shows it."""
    if ms in (None, "", 0):
        return None
    try:
        return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError, TypeError):
        return None
