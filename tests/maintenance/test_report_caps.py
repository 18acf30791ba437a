"""Issue 15, case 5: a task report that lists only part of its runs says so ("showing N of M")."""

from __future__ import annotations

import pytest

from maintenance.models import TaskKind, TaskRun, TaskState

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
