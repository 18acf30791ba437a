"""Issue 15 case 8: the catalog stays true after run deletions / restores, and its cached summaries never
outlive the index they summarise (real MLflow server)."""

from __future__ import annotations

import os
import time

import pytest
from django.utils import timezone

from catalog.dashboard import catalog_tiles
from catalog.models import CatalogExperiment
from catalog.selectors import naming_compliance_percent
from catalog.sync import catalog_sync
from mlopsadmin.lib import mlflow_client as mlf
from tests.catalog.conftest import FULL_TAGS

pytestmark = pytest.mark.django_db


def test_incremental_sync_catches_run_deletions_and_restores_made_elsewhere(synced, unique: str) -> None:  # type: ignore[no-untyped-def]
    # runs from last week: the incremental window (runs started / ended since the last sync) misses them
    week_ago = int((time.time() - 7 * 86400) * 1000)
    experiment_id = mlf.create_experiment(f"/search-team/gone-{unique}/runs")
    run_ids = []
    for tags in (FULL_TAGS, {}, {}):
        run_ids.append(mlf.create_run(experiment_id, tags=tags, start_time=week_ago))
        mlf.set_terminated(run_ids[-1], end_time=week_ago + 1000)
    catalog_sync(full=False)
    row = CatalogExperiment.objects.get(experiment_id=experiment_id)
    assert row.run_count == 3 and row.missing_tag_counts["owner"] == 2

    mlf.delete_run(run_ids[1])  # deleted in the MLflow UI, not by the product
    mlf.delete_run(run_ids[2])
    catalog_sync(full=False)
    row.refresh_from_db()
    assert (row.run_count, row.missing_tag_counts["owner"], row.tags_compliant) == (1, 0, True)

    mlf.restore_run(run_ids[2])
    catalog_sync(full=False)
    row.refresh_from_db()
    assert (row.run_count, row.missing_tag_counts["owner"]) == (2, 1)


def test_incremental_sync_catches_a_swap_and_runs_purged_elsewhere(synced, unique: str, settings) -> None:  # type: ignore[no-untyped-def]
    """Between two syncs one run restored and another deleted (the number of soft-deleted runs stays the
    same), then a run deleted and purged at once (no soft-deleted trace left): the catalog catches both."""
    settings.MLFLOW_BACKEND_STORE_URI = os.environ["MLOPSADMIN_TEST_MLFLOW_STORE"]
    week_ago = int((time.time() - 7 * 86400) * 1000)
    experiment_id = mlf.create_experiment(f"/search-team/swap-{unique}/runs")
    run_ids = []
    for tags in (FULL_TAGS, {}, {}, {}):
        run_ids.append(mlf.create_run(experiment_id, tags=tags, start_time=week_ago))
        mlf.set_terminated(run_ids[-1], end_time=week_ago + 1000)
    mlf.delete_run(run_ids[0])
    catalog_sync(full=False)
    row = CatalogExperiment.objects.get(experiment_id=experiment_id)
    assert (row.run_count, row.missing_tag_counts["owner"]) == (3, 3)

    mlf.restore_run(run_ids[0])  # restored in the MLflow UI while another run is deleted
    mlf.delete_run(run_ids[1])
    catalog_sync(full=False)
    row.refresh_from_db()
    assert (row.run_count, row.missing_tag_counts["owner"]) == (3, 2)

    mlf.delete_run(run_ids[2])  # a script's cleanup: delete, then purge at once (like `mlflow gc --run-ids`)
    mlf.purge_runs(settings.MLFLOW_BACKEND_STORE_URI, [run_ids[2]])
    catalog_sync(full=False)
    row.refresh_from_db()
    assert (row.run_count, row.missing_tag_counts["owner"]) == (2, 1)


def test_summaries_never_outlive_the_index(mlflow: str, personas, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The default cache without Redis: a file cache. Its keys expire after TIMEOUT (300 s by default; 1 s here).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
            "TIMEOUT": 1,
        }
    }
    before = naming_compliance_percent()  # cached before the first sync: nothing indexed yet
    assert before[2] == 0
    catalog_sync(full=True)
    percent, compliant, total = naming_compliance_percent()
    assert total > 0
    time.sleep(1.2)  # keys set with the default timeout are gone; summaries set for an hour are not
    assert naming_compliance_percent() == (percent, compliant, total)
    tile = catalog_tiles(personas["admin"])[0]
    assert tile.detail == f"{compliant} of {total} experiments follow the naming convention"


def test_zero_of_zero_is_not_synced_never_100_percent(db, settings) -> None:  # type: ignore[no-untyped-def]
    from maintenance.models import TaskKind, TaskRun, TaskState

    now = timezone.now()
    TaskRun.objects.create(
        kind=TaskKind.CATALOG_SYNC, state=TaskState.SUCCEEDED, started_by="t", started_at=now, finished_at=now
    )
    percent, compliant, total = naming_compliance_percent()
    assert (percent, total) == (None, 0)
    tile = catalog_tiles(None)[0]
    assert tile.value == "not synced" and tile.level == "info"


def test_a_timestamp_that_is_no_date_never_stops_the_sync_or_a_page(synced, unique: str, login) -> None:  # type: ignore[no-untyped-def]
    """A client ended a run with a time in microseconds (year ~58,000): the sync stopped on it for every
    experiment ("year 58882 is out of range") and the experiment page answered 500."""
    from django.urls import reverse

    experiment_id = mlf.create_experiment(f"/search-team/clock-{unique}/runs")
    run_id = mlf.create_run(experiment_id, tags=FULL_TAGS)
    mlf.set_terminated(run_id, end_time=int(time.time() * 1000) * 1000)
    result = catalog_sync(full=False)
    assert experiment_id in result.new
    row = CatalogExperiment.objects.get(experiment_id=experiment_id)
    assert row.run_count == 1 and row.runs_scanned_at is not None
    page = login("admin").get(reverse("catalog:experiment", args=[experiment_id]))
    assert page.status_code == 200
