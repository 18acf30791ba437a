"""Issue 15, case 6: any truthy spelling of the `keep` tag protects a run (documented list, any case, trimmed),
and a value that is neither clearly true nor false protects too and is flagged in the plan. Planned from the
backend store and through the tracking API, and re-checked at execute time, against the real MLflow server."""

from __future__ import annotations

import pytest

from maintenance.cleanup.execute_chunk import ineligible_now
from maintenance.cleanup.protection import exclusion_reason
from maintenance.models import CleanupPlan
from mlopsadmin.lib import mlflow_client as mlf
from tests.maintenance.conftest import make_run
from tests.maintenance.test_plan_sources import _both

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

KEPT = {"yes": ("keep", "yes"), "one": ("keep", "1"), "upper-key": ("KEEP", " True"), "on": ("keep", "On")}


def test_truthy_and_unclear_keep_values_are_never_planned(settings, mlflow, unique):  # type: ignore[no-untyped-def]
    experiment_id = mlf.create_experiment(f"/keep-{unique}/exp")
    runs = {label: make_run(experiment_id, tags={key: value}, name=label) for label, (key, value) in KEPT.items()}
    runs["maybe"] = make_run(experiment_id, tags={"keep": "maybe"}, name="maybe")
    runs["no"] = make_run(experiment_id, tags={"keep": "no"}, name="no")
    runs["plain"] = make_run(experiment_id, name="plain")
    store_items, api_items = _both(settings, scope="experiment", scope_value=experiment_id)
    for items in (store_items, api_items):
        planned = {run_id for run_id, row in items.items() if not row[1]}
        assert planned == {runs["no"], runs["plain"]}
        assert items[runs["yes"]][2] == "tagged keep=yes"
        assert items[runs["upper-key"]][2] == "tagged keep=true"
        assert items[runs["maybe"]][2] == "keep=maybe: not understood, kept"
    # execute re-check: a planned run that gains keep=1 (or an unclear value) before deletion is skipped
    plan = CleanupPlan.objects.latest("pk")
    for value in ("1", "tru"):
        mlf.set_run_tag(runs["plain"], "keep", value)
        fresh = mlf.get_run(runs["plain"])
        assert exclusion_reason(fresh, set())
        assert ineligible_now(fresh, plan, set())


def test_any_spelling_of_the_keep_key_protects_on_both_plan_sources(settings, mlflow, unique):  # type: ignore[no-untyped-def]
    """The key is matched trimmed and in any case ("kEEp", "Keep ", " keep"), also when the run has another,
    false `keep` beside it: the backend-store plan read only keep/Keep/KEEP and planned these runs."""
    experiment_id = mlf.create_experiment(f"/keep-key-{unique}/exp")
    runs = {key: make_run(experiment_id, tags={key: "yes"}, name=key.strip() or "blank") for key in ("kEEp", "Keep ")}
    runs["both"] = make_run(experiment_id, tags={"keep": "no", " keep": "1"}, name="both")
    runs["plain"] = make_run(experiment_id, name="plain")
    store_items, api_items = _both(settings, scope="experiment", scope_value=experiment_id)
    for items in (store_items, api_items):
        assert {run_id for run_id, row in items.items() if not row[1]} == {runs["plain"]}
        assert items[runs["kEEp"]][2] == "tagged keep=yes"
        assert items[runs["both"]][2] == "tagged keep=1"
