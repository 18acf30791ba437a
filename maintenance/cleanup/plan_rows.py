"""A plan's items written in bulk (issue 20: the cleanup plan through the tracking API, ≥ 2× the guide's dry run).

`PlanItem.objects.bulk_create` builds a model instance per run and prepares every field of every row through
Django's SQL compiler: 1.8 s of the plan worker's 6.4 s for 3,353 runs in the bench profile, CPU the saturated
machine takes from the tracking server the plan waits on. Here the rows are plain values and the statement is
built once per batch with Django's own backend operations (the table and columns from the model's metadata, the
backend's `INSERT … ON CONFLICT DO NOTHING` / `INSERT OR IGNORE` and its batch size): the same rows and the same
conflict handling as `bulk_create(ignore_conflicts=True)`.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models.constants import OnConflict

from maintenance.models import PlanItem


def _plain(value: Any) -> Any:
    """A choices member (a str subclass) as the plain str every database adapter knows."""
    return str(value) if isinstance(value, str) else value


def plan_items_insert(rows: list[dict[str, Any]]) -> int:
    """Insert plan items, skipping any whose (plan, run_id) is already stored, like
    `PlanItem.objects.bulk_create(..., ignore_conflicts=True)`. `rows`: field name → value (the same names in
    every row; a foreign key by its field name with the related primary key, e.g. {"plan": 7, ...}); every other
    field gets its model default. Returns how many rows were sent."""
    if not rows:
        return 0
    meta = PlanItem._meta
    names = list(rows[0])
    by_name = {f.name: f for f in meta.concrete_fields}
    given = [by_name[name] for name in names]  # KeyError: not a stored field of PlanItem
    others = [f for f in meta.concrete_fields if not f.primary_key and f.name not in names]
    defaults = [_plain(f.get_db_prep_save(f.get_default(), connection)) for f in others]
    columns = [*given, *others]
    quote = connection.ops.quote_name
    head = (
        f"{connection.ops.insert_statement(on_conflict=OnConflict.IGNORE)} {quote(meta.db_table)} "
        f"({', '.join(quote(str(f.column)) for f in columns)}) VALUES "
    )
    suffix = connection.ops.on_conflict_suffix_sql(columns, OnConflict.IGNORE, None, None)
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    size = max(1, connection.ops.bulk_batch_size(columns, rows))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), size):
            batch = rows[start : start + size]
            params = [value for row in batch for value in (*(_plain(row[n]) for n in names), *defaults)]
            cursor.execute(f"{head}{', '.join([one] * len(batch))} {suffix}".rstrip(), params)
    return len(rows)
