"""Issue 15 case 7: unknown is unknown everywhere (capacity check, totals, tile, page, checklist probe), soft-
deleted experiments are measured apart, and teams are attributed by the catalog's rule (real MLflow server;
the handler runs in-process)."""

from __future__ import annotations

import pytest

from catalog.sync import catalog_sync
from checklists.probes import run_probe
from maintenance import selectors
from maintenance.capacity.check import capacity_run
from maintenance.dashboard import maintenance_tiles
from maintenance.models import CapacitySample, TaskKind, TaskState
from maintenance.task_runs import task_run_claim, task_run_create
from mlopsadmin.core.models import Team
from mlopsadmin.lib import mlflow_client as mlf

pytestmark = pytest.mark.django_db


def _folder(path, size: int) -> str:  # type: ignore[no-untyped-def]
    (path / "run1").mkdir(parents=True)
    (path / "run1" / "model.bin").write_bytes(b"x" * size)
    return path.as_uri()


def test_unknown_is_never_zero_and_teams_follow_the_catalog(mlflow, personas, unique, tmp_path, settings, login):  # type: ignore[no-untyped-def]
    settings.MAINTENANCE_ARTIFACT_WARNING_BYTES = settings.MAINTENANCE_ARTIFACT_CRITICAL_BYTES = 10**15
    settings.MAINTENANCE_DATABASE_WARNING_BYTES = settings.MAINTENANCE_DATABASE_CRITICAL_BYTES = 10**15
    team = Team.objects.create(name=f"u{unique}", experiment_prefix=f"/capu-{unique}")
    store = tmp_path / "store"
    mlf.create_experiment(f"/capu-{unique}/p/named", artifact_location=_folder(store / "a", 100))
    flat = mlf.create_experiment(f"capu_flat_{unique}", artifact_location=_folder(store / "b", 50))
    for _ in range(2):  # the catalog gives a flat name to the team its runs' `team` tag names
        mlf.set_terminated(mlf.create_run(flat, tags={"team": team.name}))
    gone_mount = mlf.create_experiment(f"capu_unmounted_{unique}", artifact_location=f"/nonexistent-{unique}/mnt/c")
    deleted = mlf.create_experiment(f"/capu-{unique}/p/deleted", artifact_location=_folder(store / "d", 30))
    mlf.delete_experiment(deleted)
    catalog_sync(full=True)

    run = task_run_claim(task_run_id=task_run_create(kind=TaskKind.CAPACITY, parameters={}, actor="t").pk)
    capacity_run(run)
    run.refresh_from_db()
    assert run.state == TaskState.SUCCEEDED, run.errors
    samples = {s.key: s for s in CapacitySample.objects.filter(task_run=run, scope="experiment")}
    assert samples[gone_mount].size_bytes is None  # a folder not mounted here is unknown, not 0 B
    assert samples[deleted].size_bytes == 30 and samples[deleted].detail["lifecycle_stage"] == "deleted"
    team_sample = CapacitySample.objects.get(task_run=run, scope="team", key=team.name)
    assert team_sample.size_bytes == 150  # named + flat (catalog's rule); the deleted one is shown apart
    deleted_sample = CapacitySample.objects.get(task_run=run, scope="deleted")
    assert deleted_sample.detail["measured_bytes"] >= 30
    assert CapacitySample.objects.get(task_run=run, scope="total").size_bytes is None
    assert run.counts["artifact_bytes"] is None

    totals = selectors.latest_capacity_totals()
    assert totals["artifact_bytes"] is None and totals["unknown"] and totals["level"] == "unknown"
    tile = next(t for t in maintenance_tiles(personas["admin"]) if t.title.startswith("Capacity"))
    assert tile.value == "unknown" and tile.level != "ok"
    probe = run_probe("artifact_capacity")
    assert probe.status == "unknown", probe.evidence
    page = login("admin").get("/maintenance/").content.decode()
    assert 'id="capacity-artifacts">unknown<' in page and 'id="capacity-deleted"' in page


def test_an_old_measurement_is_unknown_now_never_all_clear(db, settings, personas) -> None:  # type: ignore[no-untyped-def]
    """The daily check stopped succeeding a month ago (worker down, MLflow unreachable at 02:30): its last
    figures must not stand as today's state. The tile showed "Capacity alerts: none" in green and the weekly
    checklist's capacity probe passed on them."""
    from datetime import timedelta

    from django.utils import timezone

    settings.MAINTENANCE_ARTIFACT_WARNING_BYTES = settings.MAINTENANCE_ARTIFACT_CRITICAL_BYTES = 10**15
    detail = {"database_bytes": 10**6, "level": "ok", "messages": []}
    measured = timezone.now() - timedelta(days=30)
    CapacitySample.objects.create(scope="total", key="total", size_bytes=10**9, measured_at=measured, detail=detail)

    tile = next(t for t in maintenance_tiles(personas["admin"]) if t.title.startswith("Capacity"))
    assert (tile.value, tile.level) == ("unknown", "info")
    assert "720 h ago" in selectors.latest_capacity_totals()["messages"][0]
    probe = run_probe("artifact_capacity")
    assert probe.status == "unknown" and "older than 48 h" in probe.evidence
