"""The nav badges every user sees alike (overdue checklists, a capacity warning) are computed once for all
users and pages within NAV_SHARED_BADGE_SECONDS (issue 20: two queries off every page), and a change that
moves them (a checklist created or signed off, a capacity check) shows on the next page, not after it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from checklists import services as checklists
from maintenance.models import CapacitySample

pytestmark = pytest.mark.django_db


def _badges(client) -> tuple[dict[str, int], list[str]]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/registry/")
    assert response.status_code == 200
    return dict(response.context["nav_badges"]), [q["sql"] for q in queries.captured_queries]


def _reads_shared(sql: list[str]) -> bool:
    return any("checklists_checklistinstance" in s or "maintenance_capacitysample" in s for s in sql)


def test_shared_badges_are_read_once_for_every_user_and_follow_changes_at_once(mlflow, login, personas) -> None:  # type: ignore[no-untyped-def]
    first, sql = _badges(login("operator"))
    assert first.get("checklists", 0) == 0 and _reads_shared(sql)
    again, sql = _badges(login("lead_search"))  # another user, another page view: not read again
    assert again.get("checklists", 0) == 0 and not _reads_shared(sql)

    old, _ = checklists.instance_create(kind="weekly", today=dt.date.today() - dt.timedelta(days=21))
    after_create, sql = _badges(login("operator"))
    assert after_create["checklists"] == 1 and _reads_shared(sql)  # the new overdue checklist, at once

    checklists.instance_sign_off(instance_id=old.pk, actor=personas["operator"], note="done")
    after_sign_off, _ = _badges(login("operator"))
    assert after_sign_off.get("checklists", 0) == 0


def test_a_capacity_warning_shows_on_the_next_page(mlflow, login, personas, unique, tmp_path, settings) -> None:  # type: ignore[no-untyped-def]
    from maintenance.capacity.check import capacity_run
    from maintenance.models import TaskKind
    from maintenance.task_runs import task_run_claim, task_run_create
    from mlopsadmin.lib import mlflow_client as mlf
    from tests.maintenance.test_capacity_unknown import _folder

    before, _ = _badges(login("operator"))
    assert before.get("maintenance", 0) == 0  # read now, and kept for the window
    settings.MAINTENANCE_ARTIFACT_WARNING_BYTES = 1  # any artifact warns
    experiment_id = mlf.create_experiment(f"/capb-{unique}/p/named", artifact_location=_folder(tmp_path / "a", 100))
    try:
        capacity_run(task_run_claim(task_run_id=task_run_create(kind=TaskKind.CAPACITY, parameters={}, actor="t").pk))
    finally:  # a local artifact folder left active would change what later tests' artifact-store probe sees
        mlf.delete_experiment(experiment_id)
    assert CapacitySample.objects.filter(scope="total").first().detail["warning"]
    after, _ = _badges(login("operator"))
    assert after["maintenance"] == 1


def test_shared_badges_are_read_again_after_their_window(mlflow, login, personas, settings) -> None:  # type: ignore[no-untyped-def]
    settings.NAV_SHARED_BADGE_SECONDS = 0  # no window: every page reads them
    _, sql = _badges(login("operator"))
    assert _reads_shared(sql)
    _, sql = _badges(login("operator"))
    assert _reads_shared(sql)


def test_a_change_committed_while_a_page_computes_the_badge_shows_on_the_next_page(
    mlflow, login, personas, monkeypatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    """Two requests interleaved: a page reads the overdue count (0), then another request creates an overdue
    checklist and commits (badge_changed, at once and on commit), then the first page stores its count. The
    count it stores was read before the change: the next page must not be shown it for the window (before:
    the old 0 was cached after the change had forgotten it, and every user saw no overdue checklist for
    NAV_SHARED_BADGE_SECONDS)."""
    from checklists.dashboard import checklist_badge
    from mlopsadmin.core import dashboard

    def provider_racing_a_change(user):  # type: ignore[no-untyped-def]
        count = checklist_badge(user)  # the page's read: before the other request's commit
        monkeypatch.setitem(dashboard._badge_providers, "checklists", checklist_badge)
        with django_capture_on_commit_callbacks(execute=True):  # the other request, committed
            checklists.instance_create(kind="weekly", today=dt.date.today() - dt.timedelta(days=21))
        return count

    monkeypatch.setitem(dashboard._badge_providers, "checklists", provider_racing_a_change)
    racing, _ = _badges(login("operator"))
    assert racing.get("checklists", 0) == 0  # what it read
    after, sql = _badges(login("lead_search"))
    assert after.get("checklists", 0) == 1 and _reads_shared(sql)
