"""Sorting the registry overview by its column headers (server-side; mlopsadmin.core.sorting draws the
header links). The default order is by name, A–Z, case-insensitive."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlopsadmin.core.sorting import Column

if TYPE_CHECKING:
    from registry_ui.selectors import ModelRow

SORT_COLUMNS = [
    Column("name", "Model", "name", "-name"),
    Column("team", "Team", "team", "-team"),
    Column("latest", "Latest", "latest", "-latest", first="desc"),
    Column("pending", "Pending approvals", "pending", "-pending", first="desc"),
    Column("updated", "Last change", "updated", "-updated", first="desc"),
]
_SORT_KEYS: dict[str, Callable[[ModelRow], Any]] = {
    "name": lambda r: r.name.lower(),
    "team": lambda r: (r.team is None, r.team.name if r.team else ""),  # models without a team last
    "latest": lambda r: int(r.model.latest_version or 0),
    "pending": lambda r: r.pending,
    "updated": lambda r: r.model.last_updated_timestamp or 0,
}
DEFAULT_SORT = "name"


def clean_sort(value: str) -> str:
    """A sort of the overview ("latest", "-latest" …); anything else is the default."""
    return value if value.lstrip("-") in _SORT_KEYS else DEFAULT_SORT


def sort_model_rows(rows: list[ModelRow], sort: str) -> list[ModelRow]:
    """The rows in the order `sort` names (ties by name); `sort` as clean_sort returns it."""
    key = _SORT_KEYS[sort.lstrip("-")]
    ordered = sorted(rows, key=lambda r: r.name.lower())
    return sorted(ordered, key=key, reverse=sort.startswith("-"))
