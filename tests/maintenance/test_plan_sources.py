"""Cleanup planning from the backend store (read-only fast path) vs through the tracking API: the same
plan on the same store, and a fall-back to the API (said in the report) whenever the store cannot be used.
The handler runs in this process, as the worker runs it, against the session's real MLflow server."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from maintenance.cleanup.sources import SOURCE_API, SOURCE_STORE
from maintenance.models import CleanupPlan, TaskKind, TaskRun, TaskState
from maintenance.task_runs import fmt_ms
from maintenance.tasks import task_run_execute
from mlopsadmin.core.models import Team
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib import mlflow_store, mlflow_support
from tests.maintenance.conftest import DAY_MS, make_run

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

ITEM_FIELDS = (
    "run_id",
    "excluded",
    "reason",
    "status",
    "end_time",
    "experiment_id",
    "experiment_name",
    "team",
    "run_name",
    "estimated_bytes",
)


def _session_store() -> str:
    from django.conf import settings

    return (
        os.environ.get("MLOPSADMIN_TEST_MLFLOW_STORE")
        or os.environ.get("MLOPSADMIN_TEST_MLFLOW_BACKEND")
        or settings.MLFLOW_BACKEND_STORE_URI
    )


def _plan(
    *, scope: str, scope_value: str = "", statuses: tuple[str, ...] = ("FAILED", "KILLED"), cutoff_ms: int | None = None
) -> tuple[TaskRun, dict[str, tuple[Any, ...]]]:
    """Run the plan handler in this process; (task run, {run_id: item fields})."""
    run = TaskRun.objects.create(kind=TaskKind.CLEANUP_PLAN, started_by="tests")
    plan = CleanupPlan.objects.create(
        scope=scope,
        scope_value=scope_value,
        older_than_days=90,
        statuses=sorted(statuses),
        created_by="tests",
        plan_task=run,
        cutoff_ms=cutoff_ms or int(time.time() * 1000) - 90 * DAY_MS,
    )
    run.parameters = {"plan_id": plan.pk}
    run.save()
    assert task_run_execute(task_run_id=run.pk) == "done"
    run.refresh_from_db()
    assert run.state == TaskState.SUCCEEDED, run.errors
    return run, {row[0]: row for row in plan.items.values_list(*ITEM_FIELDS)}


def _both(settings: Any, **kwargs: Any) -> tuple[dict[str, tuple[Any, ...]], dict[str, tuple[Any, ...]]]:
    """The same plan (same cutoff) from the store, then through the API."""
    kwargs.setdefault("cutoff_ms", int(time.time() * 1000) - 90 * DAY_MS)
    settings.MLFLOW_BACKEND_STORE_URI = _session_store()
    settings.MAINTENANCE_RUNS_PAGE_SIZE = 5  # several batches per experiment on both paths
    settings.MAINTENANCE_PLAN_READ_STORE = True
    from_store, store_items = _plan(**kwargs)
    assert from_store.report["source"] == SOURCE_STORE, from_store.report
    settings.MAINTENANCE_PLAN_READ_STORE = False
    from_api, api_items = _plan(**kwargs)
    assert from_api.report["source"] == SOURCE_API
    assert from_store.counts == from_api.counts
    assert from_store.report["exclusions_by_reason"] == from_api.report["exclusions_by_reason"]
    return store_items, api_items


@pytest.fixture
def seeded(mlflow: str, unique: str, tmp_path: Path) -> dict[str, Any]:
    """A team with two experiments of every kind of run a plan meets, one deleted experiment, artifacts."""
    team = Team.objects.create(name=f"src{unique}", experiment_prefix=f"/src-{unique}")
    artifacts = tmp_path / "artifacts"
    first = mlf.create_experiment(f"/src-{unique}/a/exp", artifact_location=(artifacts / "a").as_uri())
    second = mlf.create_experiment(f"/src-{unique}/b/exp")
    runs: dict[str, str] = {}
    for index in range(7):
        runs[f"failed-{index}"] = make_run(first, status="FAILED", name=f"failed-{index}")
    runs["killed"] = make_run(first, status="KILLED", name="killed")
    runs["finished"] = make_run(first, status="FINISHED", name="finished")
    runs["recent"] = make_run(first, status="FAILED", age_days=3, name="recent")
    for label, value in (("keep-upper", "TRUE"), ("keep-space", " True "), ("keep-false", "false"), ("keep-empty", "")):
        runs[label] = make_run(first, status="FAILED", tags={"keep": value}, name=label)
    runs["tagged"] = make_run(first, status="KILLED", tags={"mlflow.registeredModelName": "m"}, name="tagged")
    runs["tagged-empty"] = make_run(first, status="FAILED", tags={"mlflow.registeredModelName": ""}, name="t-empty")
    runs["version"] = make_run(first, status="FAILED", name="version-backed")
    mlf.create_registered_model(f"src-{unique}-runs")
    mlf.create_model_version(f"src-{unique}-runs", source=f"runs:/{runs['version']}/model", run_id=runs["version"])
    runs["logged"] = make_run(second, status="RUNNING", name="logged-model-backed")
    mlf.register_model_version(f"src-{unique}-logged", mlflow_support.log_constant_model(runs["logged"], score=0.5))
    mlf.set_terminated(runs["logged"], status="KILLED", end_time=mlf.get_run(runs["logged"]).start_time + 60_000)
    runs["running"] = make_run(second, status="RUNNING", name="running")
    runs["running-new"] = make_run(second, status="RUNNING", age_days=1, name="running-new")
    runs["deleted"] = make_run(second, status="FAILED", name="deleted")
    mlf.delete_run(runs["deleted"])
    for index in range(6):
        runs[f"second-{index}"] = make_run(second, status="KILLED" if index % 2 else "FAILED", name=f"second-{index}")
    gone = mlf.create_experiment(f"/src-{unique}/c/deleted-exp")
    runs["in-deleted-exp"] = make_run(gone, status="FAILED", name="in-deleted-exp")
    mlf.delete_experiment(gone)
    for label, size in (("failed-0", 1200), ("failed-1", 34), ("keep-upper", 99)):
        folder = artifacts / "a" / runs[label] / "artifacts"
        folder.mkdir(parents=True)
        (folder / "model.bin").write_bytes(b"x" * size)
    return {"team": team, "first": first, "second": second, "runs": runs}


def test_store_and_api_plans_are_identical(seeded: dict[str, Any], settings: Any) -> None:
    runs = seeded["runs"]
    # finished long ago, resumed by a script that was killed (RUNNING with its old end_time): one silent
    # since 100 days, one that logged an hour ago (issue 15, case 3)
    for label, logged_at in (("resumed-stuck", 100 * DAY_MS), ("resumed-alive", 3_600_000)):
        runs[label] = make_run(seeded["second"], status="FINISHED", name=label)
        mlflow_support.resume_and_die(runs[label], metrics=[("loss", 0.1, int(time.time() * 1000) - logged_at, 1)])
    store_items, api_items = _both(settings, scope="team", scope_value=seeded["team"].name)
    assert store_items == api_items
    candidates = {r for r, item in store_items.items() if not item[1]}
    expected = (
        {runs[f"failed-{i}"] for i in range(7)}
        | {runs[f"second-{i}"] for i in range(6)}
        | {runs["killed"], runs["keep-false"], runs["keep-empty"], runs["tagged-empty"]}
    )
    assert candidates == expected
    reasons = {
        label: store_items[runs[label]][2] for label in ("keep-upper", "keep-space", "tagged", "version", "logged")
    }
    assert reasons == {
        "keep-upper": "tagged keep=true",
        "keep-space": "tagged keep=true",
        "tagged": "tagged mlflow.registeredModelName=m",
        "version": "source of a registered model version",
        "logged": "source of a registered model version",
    }
    # RUNNING runs are kept, judged by the reaper's rule (last sign of life, whatever end_time says)
    started = fmt_ms(mlf.get_run(runs["running"]).start_time)
    assert (
        store_items[runs["running"]][2]
        == f"still RUNNING: stuck, no sign of life since {started} (start_time); the reaper's job"
    )
    assert store_items[runs["resumed-stuck"]][2].startswith("still RUNNING: stuck, no sign of life since")
    assert store_items[runs["resumed-stuck"]][2].endswith("(last_metric); the reaper's job")
    assert store_items[runs["resumed-alive"]][2].startswith("still RUNNING: alive, last sign of life")
    for label in ("finished", "recent", "running-new", "deleted", "in-deleted-exp"):
        assert runs[label] not in store_items, label
    assert store_items[runs["failed-0"]][-1] == 1200 and store_items[runs["keep-upper"]][-1] == 99
    assert store_items[runs["second-0"]][-1] is None  # no readable artifact location: unknown, as over the API


def test_store_and_api_agree_on_other_scopes_and_statuses(seeded: dict[str, Any], settings: Any) -> None:
    store_items, api_items = _both(
        settings, scope="experiment", scope_value=seeded["first"], statuses=("FAILED", "FINISHED", "KILLED")
    )
    assert store_items == api_items
    assert seeded["runs"]["finished"] in store_items and not store_items[seeded["runs"]["finished"]][1]
    store_items, api_items = _both(settings, scope="all")
    assert store_items == api_items
    assert set(seeded["runs"][f"second-{i}"] for i in range(6)) <= set(store_items)


@pytest.fixture
def old_schema_store(tmp_path: Path) -> str:
    path = tmp_path / "old-mlflow.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('0a8213491aaa')")
    return f"sqlite:///{path}"


@pytest.mark.parametrize(
    ("store", "why"),
    [
        ("", "MLFLOW_BACKEND_STORE_URI is not set"),
        ("sqlite:////nonexistent/mlflow.db", "not found"),
        ("postgresql+psycopg2://postgres:hunter2@127.0.0.1:9/mlflow", "unreachable"),
        ("file:///tmp/mlruns", "not a SQL store"),
        ("old-schema", "schema revision 0a8213491aaa differs"),
    ],
)
def test_unusable_store_falls_back_to_the_api(
    seeded: dict[str, Any], settings: Any, old_schema_store: str, store: str, why: str
) -> None:
    settings.MLFLOW_BACKEND_STORE_URI = old_schema_store if store == "old-schema" else store
    run, items = _plan(scope="experiment", scope_value=seeded["second"])
    assert run.report["source"] == SOURCE_API
    assert why in run.report["source_note"] and "hunter2" not in run.report["source_note"]
    assert {r for r, item in items.items() if not item[1]} == {seeded["runs"][f"second-{i}"] for i in range(6)}


def test_store_failing_part_way_is_listed_again_through_the_api(
    seeded: dict[str, Any], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.MLFLOW_BACKEND_STORE_URI = _session_store()
    real = mlflow_store.iter_cleanup_rows

    def breaks(*args: Any, **kwargs: Any) -> Any:
        rows = real(*args, **kwargs)
        yield next(rows)
        raise OSError("disk I/O error")

    monkeypatch.setattr(mlflow_store, "iter_cleanup_rows", breaks)
    run, items = _plan(scope="team", scope_value=seeded["team"].name)
    assert run.report["source"] == SOURCE_API
    assert "disk I/O error" in run.report["source_note"] and "listed again" in run.report["source_note"]
    assert run.counts["candidates"] == 17 and len(items) == 17 + run.counts["excluded"]


def test_session_store_is_at_the_installed_mlflow_head(mlflow: str, tmp_path: Path) -> None:
    assert mlflow_store.store_check(_session_store()) == mlflow_store.head_revision() != ""
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(mlflow_store.StoreUnusable, match="no alembic_version table"):
        mlflow_store.store_check(f"sqlite:///{empty}")


def test_store_connections_refuse_writes(mlflow: str) -> None:
    with mlflow_store.engine(_session_store()).connect() as connection, pytest.raises(Exception) as raised:
        connection.exec_driver_sql("UPDATE runs SET name = 'x' WHERE 1 = 0")
    assert "read" in str(raised.value).lower()
