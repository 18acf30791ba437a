"""The catalog page, its htmx fragment, the CSV export, the API filters and the home tile."""

from __future__ import annotations

import csv
import io

import pytest

pytestmark = pytest.mark.django_db


def test_catalog_page_groups_and_filters(login, synced) -> None:  # type: ignore[no-untyped-def]
    client = login("member_search")
    page = client.get("/catalog/").content.decode()
    assert "/search-team/query-ranking/bert-finetune" in page and "Compliance by team" in page
    assert "Synced" in page and "s ago" in page
    fragment = client.get("/catalog/?kind=flat", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="catalog-table")
    body = fragment.content.decode()
    assert "<html" not in body and 'id="catalog-table"' in body
    assert "johns_experiment" in body and "bert-finetune" not in body
    assert "/#/experiments/" in body


def test_deleted_hidden_unless_asked(login, synced, unique: str) -> None:  # type: ignore[no-untyped-def]
    from catalog.sync import catalog_sync
    from mlopsadmin.lib import mlflow_client as mlf

    experiment_id = mlf.create_experiment(f"/churn-team/gone-{unique}/x")
    mlf.delete_experiment(experiment_id)
    catalog_sync(full=False)
    client = login("member_search")
    cell = f"/churn-team/gone-{unique}/x</a>"
    assert cell not in client.get(f"/catalog/?q=gone-{unique}").content.decode()
    assert cell in client.get(f"/catalog/?q=gone-{unique}&deleted=1").content.decode()


def test_bad_filters_are_reported_not_500(login, synced) -> None:  # type: ignore[no-untyped-def]
    response = login("member_search").get("/catalog/?sort=bogus&kind=nope&page=999")
    assert response.status_code == 200 and "Unknown sort" in response.content.decode()


def test_csv_export_follows_filters(login, synced) -> None:  # type: ignore[no-untyped-def]
    response = login("member_search").get("/catalog/export.csv?team=fraud")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows and all(r["team"] == "fraud" for r in rows)
    assert any(r["name"] == "johns_experiment" for r in rows)


def test_api_filters(login, synced) -> None:  # type: ignore[no-untyped-def]
    client = login("auditor")
    data = client.get("/api/v1/experiments?kind=unknown_prefix").json()
    names = [i["name"] for i in data["items"]]
    assert "/recommendation/item2vec/hyperopt-sweep" in names
    assert all(any(v["kind"] == "unknown_prefix" for v in i["violations"]) for i in data["items"])
    item = client.get("/api/v1/experiments?q=bert-finetune&team=search").json()["items"][0]
    assert item["team"] == "search" and item["project"] == "query-ranking"
    assert item["experiment_type"] == "bert-finetune" and item["violations"] == [] and item["run_count"] > 10
    assert set(item["missing_tag_counts"]) >= {"team", "owner", "purpose"}
    missing = client.get("/api/v1/experiments?missing=team").json()["items"]
    assert missing and all(i["missing_tag_counts"]["team"] > 0 for i in missing)
    assert client.get("/api/v1/experiments?kind=bogus").status_code == 422
    assert client.get("/api/v1/experiments?limit=1").json()["limit"] == 1


def test_api_requires_auth(client, synced) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/experiments").status_code == 401


def test_home_tile(login, synced) -> None:  # type: ignore[no-untyped-def]
    page = login("member_search").get("/").content.decode()
    assert "Naming compliance" in page and "/catalog/" in page


def test_experiment_drilldown_lists_offending_runs(login, synced) -> None:  # type: ignore[no-untyped-def]
    from catalog.models import CatalogExperiment

    row = CatalogExperiment.objects.get(name="experiment_1")
    page = login("outsider").get(f"/catalog/experiments/{row.experiment_id}/").content.decode()
    assert "Runs missing required tags" in page and page.count("/runs/") >= 4
    assert "Only an ML lead" in page  # outsider sees why they cannot fix it


def test_sync_now_requires_operator(login, synced) -> None:  # type: ignore[no-untyped-def]
    assert login("member_search").post("/catalog/sync").status_code == 403


def test_builder_builds_compliant_name(login, synced) -> None:  # type: ignore[no-untyped-def]
    page = login("member_search").get("/catalog/builder/?team=search&project=query-ranking&experiment_type=bert-v4")
    assert "/search-team/query-ranking/bert-v4" in page.content.decode() and "compliant" in page.content.decode()


def test_convention_edit_admin_only(login, synced) -> None:  # type: ignore[no-untyped-def]
    data = {"segment_pattern": "[a-z]+", "reserved_words": "test", "required_tags": "team"}
    assert login("lead_search").post("/catalog/convention/", data).status_code == 403
    assert login("admin").post("/catalog/convention/", {**data, "segment_pattern": "(["}).status_code == 400


def test_sync_now_by_operator_runs_the_task_and_is_audited(
    login, mlflow, personas, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    from catalog.models import CatalogExperiment
    from mlopsadmin.celery import app
    from mlopsadmin.core.models import AuditEvent

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = login("operator").post("/catalog/sync", HTTP_HX_REQUEST="true")
    finally:
        app.conf.task_always_eager = previous
    assert response.status_code == 200 and 'id="catalog-sync"' in response.content.decode()
    assert CatalogExperiment.objects.filter(name="johns_experiment").exists()
    assert AuditEvent.objects.filter(action="catalog.sync", actor_name="operator").count() == 1
    status = login("operator").get("/catalog/sync/status?poll=1", HTTP_HX_REQUEST="true")
    assert status.status_code == 286 and "s ago" in status.content.decode()  # polling stops once idle
