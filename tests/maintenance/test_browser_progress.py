"""In a real browser: the progress bar of a running task updates itself and stops polling when done."""

from __future__ import annotations

import pytest

from maintenance.models import TaskKind, TaskRun
from maintenance.tasks import run_maintenance_task
from tests.maintenance.conftest import make_run, wait_task

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_progress_bar_updates_and_stops_polling(celery_worker, browser_login, live_server, make_experiment):  # type: ignore[no-untyped-def]
    experiment_id, _ = make_experiment("browser")
    for index in range(3):
        make_run(experiment_id, status="RUNNING", age_days=3, name=f"stuck-{index}")
    page = browser_login("operator")
    # a queued task, shown before any worker has it: the bar polls
    run = TaskRun.objects.create(
        kind=TaskKind.REAPER,
        started_by="operator",
        parameters={"dry_run": True, "threshold_hours": 24.0, "experiment_id": experiment_id},
    )
    progress_requests: list[int] = []
    page.on("response", lambda r: progress_requests.append(r.status) if "/progress" in r.url else None)
    page.goto(f"{live_server.url}/maintenance/tasks/{run.pk}/")
    box = page.locator(f"#task-{run.pk}")
    assert box.get_attribute("data-state") == "queued"
    assert "every 2s" in (box.get_attribute("hx-trigger") or "")
    page.wait_for_timeout(2500)
    assert progress_requests, "the fragment did not poll"
    run_maintenance_task.apply_async(kwargs={"task_run_id": run.pk})
    wait_task(run.pk)
    page.wait_for_selector(f'#task-{run.pk}[data-state="succeeded"]', timeout=20_000)
    assert page.locator(f"#task-{run.pk} progress").get_attribute("value") == "3"
    assert 286 in progress_requests
    seen = len(progress_requests)
    page.wait_for_timeout(4500)
    assert len(progress_requests) == seen  # polling stopped
    assert page.locator(f"#task-{run.pk}").get_attribute("hx-trigger") is None


def test_operator_starts_a_dry_run_reaper_from_the_page(celery_worker, browser_login, live_server, make_experiment):  # type: ignore[no-untyped-def]
    experiment_id, _ = make_experiment("browser-form")
    make_run(experiment_id, status="RUNNING", age_days=3, name="stuck")
    page = browser_login("operator")
    page.goto(f"{live_server.url}/maintenance/")
    page.fill("input[name=experiment]", experiment_id)
    page.click("#start-reaper")
    page.wait_for_url("**/maintenance/tasks/**")
    assert "/maintenance/tasks/" in page.url, page.content()[:3000]
    page.wait_for_selector('.task-progress[data-state="succeeded"]', timeout=30_000)
    page.reload()
    assert "Runs that would be reaped" in page.content() and "stuck" in page.content()
