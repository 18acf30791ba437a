"""Issue 19 in Chromium: "reap these now" after a reaper dry run, "restore" after a cleanup (all, and per
run). Only roles that may see the buttons; refusals inline in the form that was used; the task page shows
its outcome when the task ends, without a reload; 390 px and 1440 px without sideways scroll."""

from __future__ import annotations

import time

import pytest

from maintenance.cleanup.execute import cleanup_plan_execute
from maintenance.cleanup.plan import cleanup_plan_create
from maintenance.models import TaskKind, TaskRun, TaskState
from maintenance.reaper import reaper_start
from maintenance.tasks import run_maintenance_task
from mlopsadmin.lib import mlflow_client as mlf
from tests.maintenance.conftest import make_run
from tests.maintenance.test_reap_listed import run_here
from tests.maintenance.test_restore import store
from tests.ui.conftest import page_overflow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fits(page, shoot, name: str) -> None:  # type: ignore[no-untyped-def]
    for width in (390, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        page.reload()
        page.wait_for_selector("main h1")
        assert page_overflow(page) <= 0, (name, width)
        shoot(page, f"{name}-{width}")


def test_reap_these_now_from_the_dry_run_page(browser_login, live_server, personas, make_experiment, shoot) -> None:
    experiment_id, _ = make_experiment("reap-browser")
    stuck = [make_run(experiment_id, status="RUNNING", age_days=3, name=f"stuck-{i}") for i in range(2)]
    started = reaper_start(actor=personas["operator"], dry_run=True, threshold_hours=24, experiment=experiment_id)
    dry = run_here(started)
    mlf.log_batch(stuck[1], metrics=[("loss", 0.2, int(time.time() * 1000), 3)])  # came alive since

    page = browser_login("member_search")
    page.goto(f"{live_server.url}/maintenance/tasks/{dry.pk}/")
    assert "stuck-0" in page.inner_text("main") and page.locator("#reap-listed").count() == 0
    page.context.clear_cookies()

    page = browser_login("operator")
    page.goto(f"{live_server.url}/maintenance/tasks/{dry.pk}/")
    _fits(page, shoot, "reaper-dry-run")
    blocker = TaskRun.objects.create(kind=TaskKind.REAPER, started_by="schedule", parameters={"dry_run": False})
    page.click("#reap-listed button[type=submit]")
    error = page.locator("#reap-listed .form-error")
    error.wait_for()
    assert f"already queued (#{blocker.pk})" in error.inner_text()  # inline, on the same page
    assert page.url.endswith(f"/maintenance/tasks/{dry.pk}/")
    TaskRun.objects.filter(pk=blocker.pk).update(state=TaskState.FAILED)

    page.click("#reap-listed button[type=submit]")
    page.wait_for_selector("text=Reaps the runs")
    reap = TaskRun.objects.get(parameters__listed_from=dry.pk)
    assert page.url.endswith(f"/maintenance/tasks/{reap.pk}/")
    run_maintenance_task.apply(kwargs={"task_run_id": reap.pk})  # what the worker does; the page is left alone
    page.wait_for_selector("text=Listed runs", timeout=20_000)
    text = page.inner_text("main")
    assert "reaped" in text and "skipped: came alive since the dry run" in text
    assert mlf.get_run(stuck[0]).status == "FAILED" and mlf.get_run(stuck[1]).status == "RUNNING"
    _fits(page, shoot, "reaper-reap-listed")
    page.goto(f"{live_server.url}/maintenance/tasks/{dry.pk}/")
    assert page.locator("#reap-listed").count() == 0 and "already reaped by task" in page.inner_text("main")


def test_restore_per_run_and_all_from_the_plan_page(  # type: ignore[no-untyped-def]
    browser_login, live_server, personas, make_experiment, shoot, tmp_path
):
    # artifacts in a folder of the test's own: the purge below deletes them without any artifact server
    experiment_id, name = make_experiment("restore-browser", artifact_location=(tmp_path / "artifacts").as_uri())
    runs = [make_run(experiment_id, status="FAILED", name=f"old-{i}") for i in range(3)]
    plan = cleanup_plan_create(actor=personas["operator"], scope="experiment", scope_value=name)
    run_here(plan.plan_task)
    run_here(cleanup_plan_execute(actor=personas["operator"], plan_id=plan.pk, confirm=True))

    page = browser_login("auditor")
    page.goto(f"{live_server.url}/maintenance/plans/{plan.pk}/")
    assert page.locator("#restore-all").count() == 0 and page.locator("[data-restore]").count() == 0
    page.context.clear_cookies()

    page = browser_login("operator")
    page.goto(f"{live_server.url}/maintenance/plans/{plan.pk}/")
    assert "Restore all 3 deleted runs" in page.inner_text("#restore-all")
    _fits(page, shoot, "cleanup-plan-restore")
    page.click(f"button[data-restore='{runs[0]}']")
    page.wait_for_selector("[data-restore-outcome=restored]")
    assert page.locator(f"button[data-restore='{runs[0]}']").count() == 0
    assert mlf.get_run(runs[0]).lifecycle_stage == "active"

    assert mlf.purge_runs(store(), [runs[1]]).hard_deleted == [runs[1]]
    page.click(f"button[data-restore='{runs[1]}']")
    row_error = page.locator(f"form.restore-run:has(button[data-restore='{runs[1]}']) .form-error")
    row_error.wait_for()
    assert f"Run {runs[1]} was purged (permanently deleted)" in row_error.inner_text()

    page.click("#restore-all-button")
    page.wait_for_url("**/maintenance/tasks/*/")
    task = TaskRun.objects.get(kind=TaskKind.CLEANUP_RESTORE, parameters__plan_id=plan.pk)
    run_maintenance_task.apply(kwargs={"task_run_id": task.pk})
    page.wait_for_selector("table.restore-outcomes", timeout=20_000)
    outcomes = page.inner_text("table.restore-outcomes")
    assert runs[2] in outcomes and "restored" in outcomes and runs[1] not in outcomes  # refused once, not retried
    _fits(page, shoot, "cleanup-restore-task")
    assert mlf.get_run(runs[2]).lifecycle_stage == "active"
