"""Issue 19 case 1 in Chromium: when the task a page shows finishes, the whole page shows the result
without a reload (task times, the reaper's list, the catalog table), and no stale flash message is
left for the next page."""

from __future__ import annotations

import pytest

from maintenance.models import TaskKind, TaskRun
from maintenance.tasks import run_maintenance_task
from tests.maintenance.conftest import make_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_task_page_shows_the_reaper_list_and_times_when_the_task_ends(
    browser_login, live_server, make_experiment
) -> None:
    experiment_id, _ = make_experiment("live-page")
    make_run(experiment_id, status="RUNNING", age_days=3, name="stuck-live")
    page = browser_login("operator")
    run = TaskRun.objects.create(
        kind=TaskKind.REAPER,
        started_by="operator",
        parameters={"dry_run": True, "threshold_hours": 24.0, "experiment_id": experiment_id},
    )
    page.goto(f"{live_server.url}/maintenance/tasks/{run.pk}/")
    page.evaluate("window.__marker = 'same-page'")
    assert "Runs that would be reaped" not in page.content()
    run_maintenance_task.apply(kwargs={"task_run_id": run.pk})  # the task runs; the page is left alone
    page.wait_for_selector("text=Runs that would be reaped", timeout=20_000)
    assert "stuck-live" in page.inner_text("main")
    times = page.inner_text("main")
    assert " / — / —" not in times  # started and finished are filled in
    assert page.evaluate("window.__marker") == "same-page"  # updated in place, not reloaded


def test_catalog_table_fills_after_sync_now_without_reload(browser_login, live_server, mlflow, monkeypatch) -> None:
    import catalog.sync

    queued: list[int] = []  # the task run a worker would take; this test runs it itself
    monkeypatch.setattr(catalog.sync, "task_run_enqueue", lambda run: queued.append(run.pk))
    page = browser_login("operator")
    page.goto(f"{live_server.url}/catalog/")
    page.evaluate("window.__marker = 'same-page'")
    assert page.locator("#catalog-table tr[data-experiment]").count() == 0  # never synced
    page.click("#catalog-sync button[type=submit]")
    page.wait_for_selector("#catalog-sync[hx-trigger]")  # polling for the worker
    assert len(queued) == 1
    run_maintenance_task.apply(kwargs={"task_run_id": queued[0]})
    page.locator("#catalog-table tr[data-experiment]").first.wait_for(timeout=20_000)
    assert page.evaluate("window.__marker") == "same-page"
    page.goto(f"{live_server.url}/registry/")
    assert "Sync requested" not in page.inner_text("#messages")  # no stale flash on the next page


def test_a_running_task_card_polls_without_script_errors_and_rests_in_a_hidden_tab(browser_login, live_server) -> None:
    """Break-test: the card's poll carried a trigger filter (`[document.visibilityState === 'visible']`) that
    htmx may not evaluate under the CSP (allowEval off): every poll logged htmx:evalDisallowedError and a
    hidden tab went on polling every 2 s."""
    run = TaskRun.objects.create(kind=TaskKind.CAPACITY, started_by="operator", parameters={})
    page = browser_login("operator")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith(f"/tasks/{run.pk}/progress") else None)
    page.goto(f"{live_server.url}/maintenance/tasks/{run.pk}/")
    page.wait_for_timeout(4_500)
    assert len(polls) >= 2, polls  # a visible page follows the task
    assert errors == []
    page.evaluate(  # the tab goes to the background
        "window.__hidden = true;"
        "Object.defineProperty(document, 'visibilityState', {get: () => window.__hidden ? 'hidden' : 'visible'});"
        "Object.defineProperty(document, 'hidden', {get: () => window.__hidden});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    seen = len(polls)
    page.wait_for_timeout(4_500)
    assert len(polls) == seen  # nothing is asked while nobody looks
    page.evaluate("window.__hidden = false; document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_timeout(1_000)
    assert len(polls) > seen  # and it resumes when the tab is shown again


def test_sync_now_on_the_registry_keeps_the_page_around_the_table(browser_login, live_server, mlflow) -> None:
    """Break-test: "Sync now" on the registry page answered HX-Location to /registry/, an htmx request, and the
    registry view answered every htmx request with its table fragment: the page became a bare table (no
    navigation, heading, filters or message). Views now answer a fragment only to the element that asked."""
    page = browser_login("operator")
    page.goto(f"{live_server.url}/registry/")
    page.click("form[action='/registry/sync'] button >> nth=0")
    page.wait_for_selector("#messages .msg")
    assert "Registry sync queued" in page.inner_text("#messages")
    assert page.locator("nav.mainnav").count() == 1 and page.inner_text("main h1") == "Model registry"
    assert page.locator("#registry-filters").count() == 1
