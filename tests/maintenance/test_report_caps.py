"""Issue 15, case 5: a task report that lists only part of its runs says so ("showing N of M")."""

from __future__ import annotations

import re

import pytest

from maintenance.models import TaskKind, TaskRun, TaskState
from mlopsadmin.lib import mlflow_client as mlf

pytestmark = [pytest.mark.django_db]


def test_a_capped_reaper_report_says_showing_n_of_m(login) -> None:  # type: ignore[no-untyped-def]
    entry = {"run_id": "a" * 32, "experiment_id": "1", "run_name": "r", "started": "", "last_metric": ""}
    run = TaskRun.objects.create(
        kind=TaskKind.REAPER,
        started_by="tests",
        state=TaskState.SUCCEEDED,
        counts={"stuck": 1000, "alive": 700, "reaped": 0, "changed": 0, "failed": 0},
        report={"dry_run": True, "runs": [dict(entry, outcome="would reap")] * 500, "left_alone": [entry] * 500},
    )
    page = login("operator").get(f"/maintenance/tasks/{run.pk}/").content.decode()
    assert "showing 500 of 1000" in page
    assert "showing 500 of 700" in page


def test_a_capped_cleanup_execute_report_says_showing_n_of_m(login) -> None:  # type: ignore[no-untyped-def]
    run = TaskRun.objects.create(
        kind=TaskKind.CLEANUP_EXECUTE,
        started_by="tests",
        state=TaskState.SUCCEEDED,
        counts={"deleted": 0, "skipped": 900, "failed": 0},
        report={"skipped": [{"run_id": "b" * 32, "outcome_reason": "already deleted"}] * 500},
    )
    page = login("operator").get(f"/maintenance/tasks/{run.pk}/").content.decode()
    assert "showing 500 of 900" in page


# --- every kind of capped list says so (the caps are lowered here so a few items exceed them) -------------
def test_probe_evidence_says_showing_n_of_m(mlflow, unique, monkeypatch, settings) -> None:  # type: ignore[no-untyped-def]
    from checklists import probes
    from checklists.sources import NamingSummary
    from tests.maintenance.conftest import make_run

    monkeypatch.setattr(probes, "EVIDENCE_LINES", 2, raising=False)
    for index in range(3):
        mlf.create_experiment(f"/caps-{unique}/loc{index}", artifact_location=f"file:///tmp/caps-{unique}/r{index}/x")
        mlf.create_registered_model(f"caps-{unique}-unused-{index}")
    assert re.search(r"… showing 2 of \d+ locations", probes.artifact_store().evidence)

    settings.CHECKLIST_UNUSED_MODEL_DAYS = -1  # every model without an alias counts as unused
    assert re.search(r"… showing 2 of \d+ models", probes.unused_models().evidence)

    settings.MAINTENANCE_REAPER_THRESHOLD_HOURS = 24
    experiment_id = mlf.create_experiment(f"/caps-{unique}/stuck")
    for index in range(3):
        make_run(experiment_id, status="RUNNING", age_days=3, name=f"stuck-{index}")
    assert re.search(r"… showing 2 of \d+ runs", probes.stuck_runs().evidence)

    naming = probes._naming(NamingSummary(total=40, non_compliant=30, examples=["bad"] * 10), "registered model")
    assert "showing 10 of 30 names" in naming.evidence


def test_capacity_errors_say_showing_n_of_m(mlflow, unique, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from maintenance.capacity import check
    from maintenance.task_runs import task_run_claim, task_run_create

    monkeypatch.setattr(check, "ERROR_LINES", 2, raising=False)
    for index in range(3):  # folders whose store root is not mounted here: unreadable, one error each
        mlf.create_experiment(f"caps_unmounted_{unique}_{index}", artifact_location=f"/nonexistent-{unique}/e{index}/c")
    run = task_run_claim(task_run_id=task_run_create(kind=TaskKind.CAPACITY, parameters={}, actor="t").pk)
    check.capacity_run(run)
    run.refresh_from_db()
    assert run.counts["errors"] >= 3
    assert f"… showing 2 of {run.counts['errors']} unreadable locations" in run.errors


def test_purge_errors_say_showing_n_of_m(mlflow, unique, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from maintenance.cleanup import execute
    from maintenance.models import CleanupPlan, ItemOutcome, PlanItem
    from tests.maintenance.conftest import make_run

    monkeypatch.setattr(execute, "REPORT_LIST_LIMIT", 1)
    experiment_id = mlf.create_experiment(f"/caps-{unique}/purge")
    plan = CleanupPlan.objects.create(
        scope="experiment", scope_value=experiment_id, older_than_days=90, statuses=["FAILED"], cutoff_ms=0
    )
    for index in range(2):  # recorded as deleted, but still active in MLflow: the purge leaves them alone
        run_id = make_run(experiment_id, name=f"active-{index}")
        PlanItem.objects.create(plan=plan, run_id=run_id, experiment_id=experiment_id, outcome=ItemOutcome.DELETED)
    errors: list[str] = []
    execute._purge(plan, errors, "tests")
    assert len(errors) == 2 and errors[-1] == "… showing 1 of 2 runs not purged"


def test_plan_page_says_which_items_it_shows(login) -> None:  # type: ignore[no-untyped-def]
    from maintenance.models import CleanupPlan, PlanItem, PlanState

    plan = CleanupPlan.objects.create(
        scope="all", older_than_days=90, statuses=["FAILED"], cutoff_ms=0, state=PlanState.READY
    )
    PlanItem.objects.bulk_create(PlanItem(plan=plan, run_id=f"{i:032x}", experiment_id="1") for i in range(60))
    page = login("operator").get(f"/maintenance/plans/{plan.pk}/").content.decode()
    assert "showing 1–50 of 60 candidates (page 1 of 2)" in page
    page = login("operator").get(f"/maintenance/plans/{plan.pk}/?page=2").content.decode()
    assert "showing 51–60 of 60 candidates (page 2 of 2)" in page


def test_largest_tables_say_showing_n_of_m(login, mlflow) -> None:  # type: ignore[no-untyped-def]
    from maintenance.models import CapacitySample

    run = TaskRun.objects.create(kind=TaskKind.CAPACITY, started_by="tests", state=TaskState.SUCCEEDED)
    tables = [[f"t{i}", 1000 - i] for i in range(10)]
    for scope, detail in (("total", {}), ("database", {"tables": tables, "table_count": 42})):
        CapacitySample.objects.create(task_run=run, scope=scope, key=scope, size_bytes=1, detail=detail)
    page = login("operator").get("/maintenance/").content.decode()
    assert "Largest tables (showing 10 of 42)" in page


@pytest.mark.postgres
def test_postgres_size_counts_every_table() -> None:
    from django.db import connection

    from mlopsadmin.lib import tracking_db

    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL on PostgreSQL")
    settings = connection.settings_dict
    uri = f"postgresql://{settings['USER']}@{settings['HOST']}:{settings['PORT'] or 5432}/{settings['NAME']}"
    measured = tracking_db.database_size(uri)
    assert len(measured["tables"]) == 10 and measured["table_count"] > 10  # Django's own tables alone are more
