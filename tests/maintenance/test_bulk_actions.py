"""Issue 20, bulk actions with the same guarantees: cleanup execute and the reaper re-check a chunk of runs in
one read, write them with bounded concurrency (or through MLflow's store layer where the backend store is
configured), and still record exactly one audit event per run, in order, in an intact chain. Every request
the task makes goes through a counting proxy in front of the real MLflow server."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest

from maintenance.cleanup.execute import cleanup_plan_execute
from maintenance.cleanup.plan import cleanup_plan_create
from maintenance.models import ItemOutcome, PlanItem, TaskRun, TaskState
from maintenance.reaper import REAPED_TAG, reaper_start
from maintenance.tasks import task_run_execute
from mlopsadmin.audit.services import audit_verify_chain
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from tests.faults import FaultProxy
from tests.maintenance.conftest import make_run

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

CHUNK, WORKERS = 10, 4
API = "/api/2.0/mlflow"


def _paths(proxy: FaultProxy) -> Counter[str]:
    return Counter(seen.split(" ", 1)[1].split("?", 1)[0].removeprefix(API) for seen in proxy.seen)


def _single_reads(proxy: FaultProxy, run_ids: list[str]) -> int:
    """GET /runs/get requests for one of these runs (the registry scan may read other runs named by paths)."""
    return sum(1 for seen in proxy.seen if "/runs/get?" in seen and any(r in seen for r in run_ids))


def _planned(personas: Any, make_experiment: Any, n: int) -> tuple[Any, list[str], dict[str, str]]:
    """A ready plan over `n` old FAILED runs, three of which change before execute (tagged keep, registered as a
    version's source, deleted by their owner). Returns the plan, the runs still deletable, the changed ones."""
    experiment_id, name = make_experiment("bulk")
    runs = [make_run(experiment_id, status="FAILED", name=f"old-{i:02d}") for i in range(n)]
    plan = cleanup_plan_create(actor=personas["operator"], scope="experiment", scope_value=name)
    assert task_run_execute(task_run_id=plan.plan_task_id) == "done"
    changed = {"keep": runs[3], "version": runs[14], "deleted": runs[22]}
    mlf.set_run_tag(changed["keep"], "keep", "true")
    model = f"bulk-{changed['version'][:8]}"
    mlf.create_registered_model(model)
    mlf.create_model_version(model, source=f"runs:/{changed['version']}/model", run_id=changed["version"])
    mlf.delete_run(changed["deleted"])
    return plan, [r for r in runs if r not in changed.values()], changed


def _execute_through(proxy: FaultProxy, personas: Any, plan: Any, settings: Any, mlflow: str) -> TaskRun:
    execute = cleanup_plan_execute(actor=personas["operator"], plan_id=plan.pk, confirm=True)
    settings.MLFLOW_TRACKING_URI = proxy.url
    try:
        assert task_run_execute(task_run_id=execute.pk) == "done"
    finally:
        settings.MLFLOW_TRACKING_URI = mlflow
    return TaskRun.objects.get(pk=execute.pk)


def _exactly_recorded(plan: Any, deletable: list[str], changed: dict[str, str]) -> None:
    """MLflow equals the record: each deletable run deleted with one run.delete event, in the plan's item
    order; the changed ones skipped with their reason and no event; the chain intact."""
    for run_id in deletable:
        assert mlf.get_run(run_id).lifecycle_stage == "deleted", run_id
    assert mlf.get_run(changed["keep"]).lifecycle_stage == "active"
    assert mlf.get_run(changed["version"]).lifecycle_stage == "active"
    items = {i.run_id: i for i in PlanItem.objects.filter(plan=plan, excluded=False)}
    assert "keep=true" in items[changed["keep"]].outcome_reason
    assert "source of a registered model version" in items[changed["version"]].outcome_reason
    assert items[changed["deleted"]].outcome_reason == "already deleted"
    assert {i.run_id for i in items.values() if i.outcome == ItemOutcome.DELETED} == set(deletable)
    order = [i.run_id for i in sorted(items.values(), key=lambda i: i.pk) if i.outcome == ItemOutcome.DELETED]
    events = list(AuditEvent.objects.filter(action="run.delete").order_by("id").values_list("target_id", flat=True))
    assert events == order  # one each, none for the skipped ones, in item order
    assert audit_verify_chain().ok


def _reap_through(  # type: ignore[no-untyped-def]
    personas, settings, mlflow, experiment_id: str, *, terminate_delay: float
) -> tuple[TaskRun, FaultProxy]:
    """The reaper over one experiment, run as the worker runs it, through a proxy in front of the real MLflow
    server that takes `terminate_delay` seconds per terminate. Returns the finished task and the proxy."""
    started = reaper_start(actor=personas["operator"], dry_run=False, threshold_hours=24, experiment=experiment_id)
    with FaultProxy(mlflow) as proxy:
        proxy.write_path, proxy.write_delay = "/runs/update", terminate_delay
        settings.MLFLOW_TRACKING_URI = proxy.url
        try:
            assert task_run_execute(task_run_id=started.pk) == "done"
        finally:
            settings.MLFLOW_TRACKING_URI = mlflow
    return TaskRun.objects.get(pk=started.pk), proxy


def test_execute_through_the_api_rechecks_each_chunk_in_one_read_and_deletes_concurrently(  # type: ignore[no-untyped-def]
    personas, make_experiment, settings, mlflow
) -> None:
    settings.MAINTENANCE_WRITE_STORE = False  # a server whose store mlopsadmin cannot read
    settings.MAINTENANCE_BULK_CHUNK, settings.MAINTENANCE_WRITE_WORKERS = CHUNK, WORKERS
    plan, deletable, changed = _planned(personas, make_experiment, 33)
    with FaultProxy(mlflow) as proxy:
        proxy.write_path, proxy.write_delay = "/runs/delete", 0.1  # a server that takes its time per delete
        task = _execute_through(proxy, personas, plan, settings, mlflow)
    assert task.state == TaskState.SUCCEEDED, task.errors
    assert task.counts == {"deleted": len(deletable), "skipped": 3, "failed": 0}
    paths = _paths(proxy)
    assert paths["/runs/delete"] == len(deletable)
    assert _single_reads(proxy, [*deletable, *changed.values()]) == 0  # no read per run ...
    chunks = math.ceil(33 / CHUNK)
    assert paths["/runs/search"] <= chunks  # ... one re-read per chunk
    assert paths["/model-versions/search"] <= chunks + 2  # one look at new versions per chunk (+ the registry once)
    assert 1 < proxy.max_in_flight <= WORKERS  # concurrent, and bounded
    _exactly_recorded(plan, deletable, changed)


def test_execute_through_the_api_rechecks_the_next_chunk_while_this_ones_deletes_are_in_flight(  # type: ignore[no-untyped-def]
    personas, make_experiment, settings, mlflow
) -> None:
    """The execute loop is pipelined over REST: the next chunk is claimed and re-checked (its one search) while
    the deletes of this one are still being sent, instead of after; still at most WORKERS deletes at once, and
    exactly one event per deleted run, in item order."""
    settings.MAINTENANCE_WRITE_STORE = False
    settings.MAINTENANCE_BULK_CHUNK, settings.MAINTENANCE_WRITE_WORKERS = CHUNK, WORKERS
    plan, deletable, changed = _planned(personas, make_experiment, 33)
    with FaultProxy(mlflow) as proxy:
        proxy.write_path, proxy.write_delay = "/runs/delete", 0.3
        task = _execute_through(proxy, personas, plan, settings, mlflow)
    assert task.state == TaskState.SUCCEEDED, task.errors
    order = [seen.split(" ", 1)[1].split("?", 1)[0].removeprefix(API) for seen in proxy.seen]
    searches = [i for i, path in enumerate(order) if path == "/runs/search"]
    deletes = [i for i, path in enumerate(order) if path == "/runs/delete"]
    # the first chunk holds at least 7 deletes (10 items, 3 changed): the 5th waits for a free writer
    assert searches[1] < deletes[4], order
    assert proxy.max_in_flight <= WORKERS
    _exactly_recorded(plan, deletable, changed)


def test_execute_with_the_backend_store_deletes_through_mlflows_store_layer(  # type: ignore[no-untyped-def]
    personas, make_experiment, settings, mlflow
) -> None:
    """Where MLFLOW_BACKEND_STORE_URI is configured, re-checks read the store and the deletes go through
    MLflow's own store layer in-process: no request per run reaches the tracking server."""
    assert settings.MLFLOW_BACKEND_STORE_URI and settings.MAINTENANCE_WRITE_STORE
    settings.MAINTENANCE_BULK_CHUNK = CHUNK
    plan, deletable, changed = _planned(personas, make_experiment, 25)
    with FaultProxy(mlflow) as proxy:
        task = _execute_through(proxy, personas, plan, settings, mlflow)
    assert task.state == TaskState.SUCCEEDED, task.errors
    paths = _paths(proxy)
    assert paths["/runs/delete"] == paths["/runs/search"] == 0, paths
    assert _single_reads(proxy, [*deletable, *changed.values()]) == 0
    _exactly_recorded(plan, deletable, changed)


@pytest.mark.parametrize("through", ["api", "store"])
def test_reaper_rereads_each_chunk_once_and_records_one_event_per_reaped_run(  # type: ignore[no-untyped-def]
    personas, make_experiment, settings, mlflow, through
) -> None:
    settings.MAINTENANCE_WRITE_STORE = through == "store"
    settings.MAINTENANCE_BULK_CHUNK, settings.MAINTENANCE_WRITE_WORKERS = CHUNK, WORKERS
    experiment_id, _ = make_experiment("bulk-reap")
    stuck = [make_run(experiment_id, status="RUNNING", age_days=3, name=f"stuck-{i:02d}") for i in range(23)]
    alive = make_run(experiment_id, status="RUNNING", age_days=3, metric_age_days=0.01, name="alive")
    task, proxy = _reap_through(personas, settings, mlflow, experiment_id, terminate_delay=0.1)
    assert task.state == TaskState.SUCCEEDED and task.counts["reaped"] == len(stuck), task.counts
    paths = _paths(proxy)
    assert _single_reads(proxy, [*stuck, alive]) == 0
    if through == "api":
        assert paths["/runs/update"] == len(stuck) and 1 < proxy.max_in_flight <= WORKERS
    else:
        assert paths["/runs/update"] == paths["/runs/log-batch"] == 0, paths
    for run_id in stuck:
        fresh = mlf.get_run(run_id)
        assert (fresh.status, fresh.tags.get(REAPED_TAG)) == ("FAILED", "true")
        assert fresh.end_time == fresh.start_time  # its last sign of life, not now
    assert mlf.get_run(alive).status == "RUNNING"
    events = list(AuditEvent.objects.filter(action="run.reap").values_list("target_id", flat=True))
    assert sorted(events) == sorted(stuck)
    assert audit_verify_chain().ok


def test_reaper_through_the_api_rechecks_the_next_chunk_while_this_ones_writes_are_in_flight(  # type: ignore[no-untyped-def]
    personas, make_experiment, settings, mlflow
) -> None:
    """The reaper's loop is pipelined over REST like the cleanup execute's: the next chunk is re-read (its one
    search) while the terminates of this one are still being sent, instead of after; still at most WORKERS
    terminates at once, every stuck run reaped with its tags and exactly one run.reap event each."""
    settings.MAINTENANCE_WRITE_STORE = False
    settings.MAINTENANCE_BULK_CHUNK, settings.MAINTENANCE_WRITE_WORKERS = CHUNK, WORKERS
    experiment_id, _ = make_experiment("pipelined-reap")
    stuck = [make_run(experiment_id, status="RUNNING", age_days=3, name=f"stuck-{i:02d}") for i in range(23)]
    task, proxy = _reap_through(personas, settings, mlflow, experiment_id, terminate_delay=0.3)
    assert task.state == TaskState.SUCCEEDED and task.counts["reaped"] == len(stuck), task.counts
    order = [seen.split(" ", 1)[1].split("?", 1)[0].removeprefix(API) for seen in proxy.seen]
    searches = [i for i, path in enumerate(order) if path == "/runs/search"]
    updates = [i for i, path in enumerate(order) if path == "/runs/update"]
    assert len(searches) == 1 + math.ceil(23 / CHUNK), order  # the listing, then one re-read per chunk
    # the first chunk holds 10 terminates: the 5th waits for a free writer, the second chunk's re-read does not
    assert searches[2] < updates[4], order
    assert proxy.max_in_flight <= WORKERS
    for run_id in stuck:
        fresh = mlf.get_run(run_id)
        assert (fresh.status, fresh.tags.get(REAPED_TAG)) == ("FAILED", "true")
    events = list(AuditEvent.objects.filter(action="run.reap").values_list("target_id", flat=True))
    assert sorted(events) == sorted(stuck) and len(events) == len(stuck)
    assert audit_verify_chain().ok


def test_execute_through_the_api_marks_a_chunk_delete_sent_only_once_the_previous_chunks_deletes_returned(  # type: ignore[no-untyped-def]
    personas, make_experiment, settings, mlflow, monkeypatch
) -> None:
    """A chunk is re-checked while the previous chunk's deletes are in flight, but its items are marked
    "delete sent" only right before its own deletes go out: a worker killed while the previous deletes were
    still in flight leaves them claimed (re-checked on resume), never marked as sent when they were not (a run
    its owner deleted meanwhile would be recorded as this plan's deletion)."""
    from maintenance.cleanup import execute_chunk

    settings.MAINTENANCE_WRITE_STORE = False
    settings.MAINTENANCE_BULK_CHUNK, settings.MAINTENANCE_WRITE_WORKERS = CHUNK, WORKERS
    plan, deletable, changed = _planned(personas, make_experiment, 33)
    sends = {"started": 0, "returned": 0}
    marked_while_in_flight: list[int] = []
    real_delete, real_sending = mlf.delete_runs, execute_chunk.items_sending

    def delete_runs(*args: Any, **kwargs: Any) -> Any:
        sends["started"] += 1
        try:
            return real_delete(*args, **kwargs)
        finally:
            sends["returned"] += 1

    def items_sending(items: Any, run: Any) -> Any:
        if items and sends["started"] != sends["returned"]:
            marked_while_in_flight.append(len(items))
        return real_sending(items, run)

    monkeypatch.setattr(mlf, "delete_runs", delete_runs)
    monkeypatch.setattr(execute_chunk, "items_sending", items_sending)
    with FaultProxy(mlflow) as proxy:
        proxy.write_path, proxy.write_delay = "/runs/delete", 0.3
        task = _execute_through(proxy, personas, plan, settings, mlflow)
    assert task.state == TaskState.SUCCEEDED, task.errors
    assert sends["started"] == math.ceil(33 / CHUNK)
    assert marked_while_in_flight == []
    _exactly_recorded(plan, deletable, changed)


def test_reaper_through_the_api_checks_the_backend_store_once_per_task_not_per_chunk(  # type: ignore[no-untyped-def]
    personas, make_experiment, settings, mlflow, monkeypatch
) -> None:
    """Writes through the tracking API with a backend store configured: whether the store can be read (a
    connection and a schema-revision query) is learned once for the task, not again for every chunk."""
    from maintenance import reaper

    settings.MAINTENANCE_WRITE_STORE = False
    settings.MAINTENANCE_BULK_CHUNK, settings.MAINTENANCE_WRITE_WORKERS = CHUNK, WORKERS
    checks: list[str] = []
    real = reaper.readable_backend_store

    def counted() -> str:
        checks.append("check")
        return real()

    monkeypatch.setattr(reaper, "readable_backend_store", counted)
    experiment_id, _ = make_experiment("store-checked-once")
    stuck = [make_run(experiment_id, status="RUNNING", age_days=3, name=f"stuck-{i:02d}") for i in range(23)]
    task, _proxy = _reap_through(personas, settings, mlflow, experiment_id, terminate_delay=0.0)
    assert task.state == TaskState.SUCCEEDED and task.counts["reaped"] == len(stuck), task.counts
    assert len(checks) <= 2, checks  # the listing's, the task's: not one per chunk of CHUNK runs
