"""Issue 19 case 8, break-test: names as long as MLflow allows (256 characters, no spaces) on every page that
shows them, at 390 and 1440 px. A name that cannot wrap pushed the page sideways (the model page's heading
at 1440 px, the breadcrumb of the aliases, version and compare pages at 390 px: 1,664 px of sideways scroll)."""

from __future__ import annotations

import time
import uuid
from urllib.parse import quote

import pytest

from mlopsadmin.lib import mlflow_client as mlf
from tests.ui.conftest import page_overflow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _long_model() -> str:
    """A search-team model whose 250-character name has no place to break, with two versions (v1 @champion)."""
    name = f"search-{uuid.uuid4().hex[:8]}-" + "w" * 234
    mlf.create_registered_model(name, description="a long name")
    found = mlf.get_experiment_by_name("/search-team/long-names/runs")
    experiment_id = found.experiment_id if found else mlf.create_experiment("/search-team/long-names/runs")
    for score in (0.8, 0.9):
        run_id = mlf.create_run(experiment_id, run_name="r-" + "q" * 200)
        mlf.log_batch(run_id, metrics=[("val_ndcg_at_10", score, int(time.time() * 1000), 0)])
        mlf.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id)
        mlf.set_terminated(run_id)
    mlf.set_model_alias(name, "champion", "1")
    return name


def test_a_name_without_spaces_never_pushes_a_page_sideways(browser_login, live_server, mlflow, personas) -> None:
    from catalog.sync import catalog_sync
    from registry_ui.approvals import services

    name = _long_model()
    experiment_id = mlf.create_experiment(f"/search-team/{'e' * 180}{uuid.uuid4().hex[:8]}/runs")
    catalog_sync(full=True)
    services.approval_request_create(actor=personas["member_search"], model_name=name, version="2")
    model = f"/registry/models/{quote(name, safe='')}/"
    paths = [
        model,
        model + "aliases/",
        model + "versions/2/",
        model + "compare/?v=1&v=2",
        f"/search/?q={quote(name, safe='')}",
        "/registry/inbox/",
        "/",
        f"/catalog/experiments/{experiment_id}/",
        "/audit/?target_kind=model",
    ]
    page = browser_login("admin")
    wide = {}
    for width in (390, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        for path in paths:
            page.goto(live_server.url + path)
            page.wait_for_selector("main")
            if page_overflow(page) > 0:
                wide[f"{width} {path[:60]}"] = page_overflow(page)
    assert wide == {}
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(live_server.url + "/audit/")
    number = page.locator("table.audit-table tbody tr td:first-child a").first.bounding_box()
    assert number["height"] < 30  # an event number on one line, never one digit per line
