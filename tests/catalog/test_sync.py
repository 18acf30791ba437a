"""The sync against the real MLflow server: demo data, new / renamed / deleted experiments, re-evaluation."""

from __future__ import annotations

import pytest

from catalog.models import CatalogExperiment
from catalog.selectors import sync_status
from catalog.services import convention_update
from catalog.sync import catalog_sync
from mlopsadmin.lib import mlflow_client as mlf
from tests.catalog.conftest import FULL_TAGS, make_experiment

pytestmark = pytest.mark.django_db


def test_full_sync_indexes_demo_experiments_with_violations(synced) -> None:  # type: ignore[no-untyped-def]
    good = CatalogExperiment.objects.get(name="/search-team/query-ranking/bert-finetune")
    assert good.name_compliant and good.team_key == "search" and good.project == "query-ranking"
    live_runs = list(mlf.iter_runs([good.experiment_id]))
    assert good.run_count == len(live_runs) > 0
    assert good.missing_tag_counts["owner"] == sum(1 for r in live_runs if not r.tags.get("owner"))
    flat = CatalogExperiment.objects.get(name="johns_experiment")
    assert flat.violation_kinds.split() == ["flat"]
    assert flat.team_key == "fraud"  # from its runs' dominant team tag
    assert flat.suggested_name == "/fraud-team/johns-experiment/general"
    unknown = CatalogExperiment.objects.get(name="/recommendation/item2vec/hyperopt-sweep")
    assert "unknown_prefix" in unknown.violation_kinds
    assert unknown.suggested_name.startswith("/rec-team/item2vec/hyperopt-sweep")
    nobody = CatalogExperiment.objects.get(name="experiment_1")
    assert nobody.missing_tag_counts["team"] == nobody.run_count == 4
    state = sync_status()
    assert state.state == "idle" and state.last_success_at and state.done == state.total


def test_sync_picks_up_new_renamed_and_deleted(synced, unique: str) -> None:  # type: ignore[no-untyped-def]
    new_id, _ = make_experiment(f"/search-team/sync-{unique}/new", [FULL_TAGS, {"team": "search"}])
    renamed_id, _ = make_experiment(f"/search-team/sync-{unique}/before", [FULL_TAGS])
    deleted_id, _ = make_experiment(f"/search-team/sync-{unique}/doomed", [])
    catalog_sync(full=False)
    assert CatalogExperiment.objects.get(experiment_id=new_id).run_count == 2

    mlf.rename_experiment(renamed_id, f"scratch_{unique}")
    mlf.delete_experiment(deleted_id)
    brand_new_id, _ = make_experiment(f"/fraud-team/sync-{unique}/later", [FULL_TAGS])
    result = catalog_sync(full=False)

    assert result.mode == "incremental"
    assert brand_new_id in result.new
    assert (renamed_id, f"/search-team/sync-{unique}/before", f"scratch_{unique}") in result.renamed
    assert deleted_id in result.deleted
    renamed = CatalogExperiment.objects.get(experiment_id=renamed_id)
    assert renamed.name == f"scratch_{unique}" and not renamed.name_compliant
    assert renamed.previous_name == f"/search-team/sync-{unique}/before"
    assert CatalogExperiment.objects.get(experiment_id=deleted_id).lifecycle_stage == "deleted"
    new = CatalogExperiment.objects.get(experiment_id=new_id)
    assert new.missing_tag_counts["owner"] == 1 and "owner" in new.missing_tags


def test_incremental_sync_sees_new_runs(synced, unique: str) -> None:  # type: ignore[no-untyped-def]
    experiment_id, _ = make_experiment(f"/churn-team/runs-{unique}/grow", [FULL_TAGS])
    catalog_sync(full=False)
    run_id = mlf.create_run(experiment_id, run_name="late", tags={"team": "churn"})
    mlf.set_terminated(run_id)
    catalog_sync(full=False)
    assert CatalogExperiment.objects.get(experiment_id=experiment_id).run_count == 2


def test_convention_change_reevaluates_without_mlflow(synced, personas) -> None:  # type: ignore[no-untyped-def]
    row = CatalogExperiment.objects.get(name="/search-team/query-ranking/bert-finetune")
    assert row.name_compliant
    convention_update(
        actor=personas["admin"],
        segment_pattern=r"[a-z0-9]+(?:-[a-z0-9]+)*",
        reserved_words=["bert-finetune", "query"],
        required_tags=["team", "reviewer"],
    )
    row.refresh_from_db()
    assert "reserved" in row.violation_kinds
    assert set(row.missing_tag_counts) == {"team", "reviewer"}
    assert row.missing_tag_counts["reviewer"] == row.run_count > 0


def test_second_sync_is_refused_while_one_runs(synced) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from maintenance.models import TaskKind, TaskRun, TaskState
    from mlopsadmin.core.errors import Conflict

    TaskRun.objects.create(
        kind=TaskKind.CATALOG_SYNC,
        state=TaskState.RUNNING,
        started_by="x",
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    with pytest.raises(Conflict):
        catalog_sync()


def test_a_name_as_long_as_mlflow_allows_is_indexed_and_the_sync_goes_on(synced, login, unique: str) -> None:
    """Break-test (issue 19, the catalog table after "Sync now"): an experiment name of 256 characters (MLflow's
    column) whose project segment is longer than the index's column stopped the whole sync (`value too long
    for type character varying(200)`), so no experiment created after it ever reached the catalog."""
    long_name = f"/search-team/{'p' * 230}{unique}/runs"
    assert len(long_name) == 256
    long_id, _ = make_experiment(long_name, [{"team": "search"}])
    other_id, _ = make_experiment(f"/search-team/after-long-{unique}/runs", [{"team": "search"}])
    catalog_sync(full=True)
    row = CatalogExperiment.objects.get(experiment_id=long_id)
    assert row.name == long_name and row.team_key == "search"
    assert row.project.startswith("p" * 100)
    assert CatalogExperiment.objects.filter(experiment_id=other_id).exists()
    page = login("lead_search").get("/catalog/", {"q": unique})
    assert page.status_code == 200 and long_name in page.content.decode()
