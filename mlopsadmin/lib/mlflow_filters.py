"""The one place that builds MLflow search filter strings from names and tag values.

MLflow (3.x) tokenizes a filter with sqlparse and then only strips the outer quotes of a string
literal: it never un-escapes what is inside. So `name = 'a\\'b'` looks for the name `a\\'b` and finds
nothing, while `name = "a'b"` finds `a'b` (measured in ../shared/MLFLOW-NOTES.md and by
tests/legacy/test_filter_quoting.py against a real server, for models, versions, experiments and tags).
The rules that follow from it:

- a value without `"` is written in double quotes (a trailing backslash is fine there);
- a value with `"` but no `'` is written in single quotes, unless it ends with a backslash (the
  single-quote tokenizer then swallows the closing quote);
- any other value (both quote kinds) cannot be written exactly. The clause becomes a LIKE pattern
  with `_` in place of each quote and backslash (a superset: LIKE also treats `%`, `_` as wildcards and
  some databases treat backslash as LIKE's escape), and the caller keeps only the exact matches
  (`Clause.exact` is False and `Clause.matches` does the check).

Tag keys are always written in backticks (tag keys may hold `.`, `-`, `/`, spaces and `:`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


def quote(value: str) -> str | None:
    """`value` as an MLflow string literal that MLflow reads back unchanged, or None when no literal can
    say it exactly (it holds both `'` and `"`, or `"` and a trailing backslash)."""
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value and not value.endswith("\\"):
        return f"'{value}'"
    return None


def key(name: str) -> str:
    """A filter key: `name`, `run_id`, `attributes.x` stay as they are; `tags.<key>` gets backticks."""
    if name.startswith("tags."):
        return f"tags.`{name[len('tags.') :]}`"
    return name


def like_pattern(value: str) -> str:
    """A LIKE literal matching at least `value`: quotes and backslashes become the one-character wildcard."""
    return '"' + "".join("_" if c in "'\"\\" else c for c in value) + '"'


@dataclass(frozen=True)
class Clause:
    """One `key = value` condition as MLflow filter text. When `exact` is False the text selects a
    superset and `matches(entity)` must be applied to what comes back."""

    field: str
    value: str
    text: str
    exact: bool

    def matches(self, entity: Any) -> bool:
        return field_value(entity, self.field) == self.value


def field_value(entity: Any, field: str) -> Any:
    """The value a filter key reads on a gateway record (`tags.x` reads the tags dict)."""
    if field.startswith("tags."):
        return (getattr(entity, "tags", None) or {}).get(field[len("tags.") :])
    return getattr(entity, field.removeprefix("attributes."), None)


def equals(field: str, value: str) -> Clause:
    """`field = value` (field: `name`, `run_id`, `tags.<key>`, ...), exact when MLflow can say it."""
    literal = quote(value)
    if literal is not None:
        return Clause(field, value, f"{key(field)} = {literal}", True)
    return Clause(field, value, f"{key(field)} LIKE {like_pattern(value)}", False)


def build(conditions: dict[str, str] | None, extra: str | None = None) -> tuple[str | None, list[Clause]]:
    """AND of `field = value` for each condition, plus an already-built `extra` filter.
    Returns (filter string or None, the clauses the caller must still check client-side)."""
    clauses = [equals(f, v) for f, v in (conditions or {}).items()]
    parts = [c.text for c in clauses] + ([extra] if extra else [])
    return (" AND ".join(parts) or None), [c for c in clauses if not c.exact]


def keep_matching(items: Iterable[Any], inexact: list[Clause]) -> Iterable[Any]:
    """The items that satisfy every clause MLflow could only approximate."""
    if not inexact:
        return items
    return (item for item in items if all(c.matches(item) for c in inexact))


def listable(value: str) -> bool:
    """Whether `value` can sit in an `IN (...)` list. MLflow reads an IN list with Python's
    `ast.literal_eval` (mlflow.utils.search_utils `_parse_list_from_sql_token`), unlike an `=` literal:
    backslash escapes apply there (`"a\\n"` is read as a newline, a trailing backslash or `\\N` is a
    syntax error that fails the whole search) and a control character breaks the literal. So a value
    with a backslash or a non-printable character, or one no literal can hold (both quote kinds), is not
    listable: callers look it up alone with `equals` (measured against MLflow 3.x, tests/registry/test_index.py)."""
    return "\\" not in value and value.isprintable() and quote(value) is not None


def in_list(field: str, values: Iterable[str]) -> str:
    """`field IN ("a", "b")` for values that are `listable` (ids, plain names).

    Raises ValueError for a value that is not (see `listable`): it must be looked up on its own."""
    literals = []
    for value in values:
        literal = quote(value)
        if literal is None or not listable(value):
            raise ValueError(f"{value!r} cannot be written in an MLflow IN list")
        literals.append(literal)
    return f"{key(field)} IN ({', '.join(literals)})"
