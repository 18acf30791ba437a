"""Issue 15: the catalog drill-down (runs of an experiment missing required tags, live from MLflow) lists all of
them, page after page, and shows which runs a cleanup would keep and why by the cleanup's own protection rule
(maintenance/cleanup/protection.py) — the rule the plan and the execute re-check use. Real MLflow server."""

from __future__ import annotations

import html
import re
import time

import pytest

from catalog.models import CatalogExperiment
from catalog.sync import catalog_sync
from mlopsadmin.lib import mlflow_client as mlf

pytestmark = pytest.mark.django_db

DAY_MS = 86_400_000


def _run(experiment_id: str, name: str, *, status: str = "FAILED", tags: dict[str, str] | None = None) -> str:
    start = int(time.time() * 1000) - 3 * DAY_MS
    run_id = mlf.create_run(experiment_id, run_name=name, tags=tags, start_time=start)
    if status != "RUNNING":
        mlf.set_terminated(run_id, status=status, end_time=start + 60_000)
    return run_id


def _rows(page: str) -> dict[str, str]:
    """run id → the text of its table row."""
    return {
        found.group(1): re.sub(r"<[^>]+>", " ", row)
        for row in page.split("<tr>")[1:]
        if (found := re.search(r"/runs/([0-9a-f]{32})", row))
    }


def test_drilldown_pages_through_every_offending_run_and_shows_protection(login, synced, settings, unique) -> None:  # type: ignore[no-untyped-def]
    settings.CATALOG_DRILLDOWN_LIMIT = 2
    # an s3 location: the server accepts a version registered by path (empty run_id) under it
    experiment_id = mlf.create_experiment(
        f"/search-team/drill-{unique}/protect", artifact_location=f"s3://bucket-{unique}/exp"
    )
    runs = {
        "keep": _run(experiment_id, "keep-yes", tags={"keep": "yes"}),
        "by-path": _run(experiment_id, "registered-by-path"),
        "stuck": _run(experiment_id, "running-stuck", status="RUNNING"),
        "plain": _run(experiment_id, "plain-failed"),
        "plain-2": _run(experiment_id, "plain-failed-2"),
    }
    mlf.create_registered_model(f"drill-{unique}")  # registered from a copied path: empty run_id
    mlf.create_model_version(f"drill-{unique}", source=mlf.get_run(runs["by-path"]).artifact_uri + "/model")
    catalog_sync(full=False)
    assert CatalogExperiment.objects.get(experiment_id=experiment_id).runs_missing_any == 5

    client = login("admin")
    base = url = f"/catalog/experiments/{experiment_id}/"
    seen: dict[str, str] = {}
    pages = 0
    while url:
        page = client.get(url).content.decode()
        rows = _rows(page)
        assert len(rows) <= 2 and not set(rows) & set(seen)
        seen.update(rows)
        pages += 1
        assert f"showing runs {len(seen) - len(rows) + 1}–{len(seen)} of 5" in page
        found = re.search(r'href="(\?after=[^"]+)" rel="next"', page)
        url = base + html.unescape(found.group(1)) if found else ""
    assert pages == 3 and set(seen) == set(runs.values())

    assert "tagged keep=yes" in seen[runs["keep"]]
    assert "source of a registered model version" in seen[runs["by-path"]]
    assert "still RUNNING: stuck" in seen[runs["stuck"]]
    for label in ("plain", "plain-2"):
        assert "kept by cleanup" not in seen[runs[label]]


def test_a_bad_page_link_is_a_clear_error(login, synced) -> None:  # type: ignore[no-untyped-def]
    row = CatalogExperiment.objects.get(name="experiment_1")
    client = login("member_search")
    bad = client.get(f"/catalog/experiments/{row.experiment_id}/?after=not-a-cursor")
    assert bad.status_code == 400 and "start from the first page" in bad.content.decode()
    stale = client.get(f"/catalog/experiments/{row.experiment_id}/?after=3:0:bm90LWEtdG9rZW4=")
    assert stale.status_code == 200 and "Could not read the runs from MLflow" in stale.content.decode()
