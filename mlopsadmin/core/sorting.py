"""Sortable table headers: each column header is a link to the same page sorted by that column, keeping
the filters (server-side sort; the htmx fragment of the table comes from the same template, see
templates/sort_th.html). A second click on the sorted column turns the order round."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode


@dataclass(frozen=True)
class Column:
    """A sortable column: `asc` / `desc` are the page's sort values ("name" / "-name"); `first` is the
    order a first click gives ("desc" for counts and dates: most / newest first)."""

    key: str
    label: str
    asc: str
    desc: str = ""
    first: str = "asc"


@dataclass(frozen=True)
class Header:
    label: str
    query: str  # the page's query string sorted by this column (filters kept, page dropped)
    state: str  # "ascending", "descending" or "" (aria-sort)

    @property
    def arrow(self) -> str:
        return {"ascending": "▲", "descending": "▼"}.get(self.state, "")


def sort_headers(columns: list[Column], current: str, params: dict[str, str]) -> dict[str, Header]:
    """{column key: its header} for the sort `current`; `params`: the filters in use (without sort and
    page). A column sorted ascending links to its descending order and back."""
    headers = {}
    for column in columns:
        if current == column.asc:
            state, target = "ascending", column.desc or column.asc
        elif column.desc and current == column.desc:
            state, target = "descending", column.asc
        else:
            state, target = "", column.desc if column.first == "desc" and column.desc else column.asc
        query = urlencode({**{k: v for k, v in params.items() if v and k not in ("sort", "page")}, "sort": target})
        headers[column.key] = Header(column.label, query, state)
    return headers
