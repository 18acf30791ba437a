"""The plan's bulk insert (maintenance/cleanup/plan_rows.py) stores exactly what `bulk_create(ignore_conflicts=True)`
stores: the same values and defaults, a run already in the plan skipped, many rows across the backend's batches."""

from __future__ import annotations

import pytest
from django.forms.models import model_to_dict

from maintenance.cleanup.plan_rows import plan_items_insert
from maintenance.models import CleanupPlan, ItemOutcome, PlanItem

pytestmark = pytest.mark.django_db

FIELDS = ("run_id", "experiment_id", "experiment_name", "team", "run_name", "status", "end_time", "excluded", "reason")


def _row(plan: CleanupPlan, i: int) -> dict[str, object]:
    return {
        "plan": plan.pk,
        "run_id": f"{i:032x}",
        "experiment_id": str(i % 7),
        "experiment_name": f"/team-{i % 3}/exp 'quoted' \\ {i}",
        "team": "" if i % 2 else "search-team",
        "run_name": f"run-{i}",
        "status": "FAILED" if i % 2 else "KILLED",
        "end_time": None if i == 5 else 1_700_000_000_000 + i,
        "excluded": i % 4 == 0,
        "reason": "tagged keep=true" if i % 4 == 0 else "FAILED, ended long ago",
        "estimated_bytes": None if i % 5 == 0 else i * 1024,
    }


def test_plan_rows_store_what_bulk_create_stores_and_skip_a_run_already_planned() -> None:
    fields = {"scope": "all", "older_than_days": 90, "statuses": ["FAILED"], "cutoff_ms": 1, "created_by": "t"}
    plan, other = CleanupPlan.objects.create(**fields), CleanupPlan.objects.create(**fields)
    rows = [_row(plan, i) for i in range(1, 2501)]
    PlanItem.objects.create(**{**_row(plan, 7), "plan": plan, "reason": "stored first"})
    PlanItem.objects.bulk_create([PlanItem(**{**row, "plan": other}) for row in rows], ignore_conflicts=True)

    assert plan_items_insert(rows) == len(rows)

    mine = {item.run_id: item for item in PlanItem.objects.filter(plan=plan)}
    reference = {item.run_id: item for item in PlanItem.objects.filter(plan=other)}
    assert len(mine) == len(rows) and mine[rows[6]["run_id"]].reason == "stored first"  # the conflict was skipped
    for run_id, item in mine.items():
        if run_id == rows[6]["run_id"]:
            continue
        ours = model_to_dict(item, exclude=["id", "plan"])
        assert ours == model_to_dict(reference[run_id], exclude=["id", "plan"]), run_id
        assert item.outcome == ItemOutcome.PENDING and item.claimed_by_id is None
    assert plan_items_insert([]) == 0
