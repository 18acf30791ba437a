"""Registry reads and writes with an explicit time budget: one HTTP request each, no retries.

A gateway call retries (settings.MLFLOW_REQUEST_MAX_RETRIES), so one call can take `timeout × (retries + 1)`
plus back-off. An alias change must finish within one deadline (shorter than the web worker's timeout and
the lock's TTL), so its writes and the read-back that decides the outcome go through here: the same
transport (mlflow_rest.py), one attempt each, with the time the caller has left.

A write that fails with `MlflowUnavailable` may still have been applied (a lost response): callers read
the state back before saying what happened.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

from django.conf import settings

from mlopsadmin.lib import mlflow_rest
from mlopsadmin.lib.mlflow_errors import MlflowUnavailable

_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()
T = TypeVar("T")
POOL_WORKERS = 8  # reads in flight at once from this process (mlflow_rest keeps 10 connections per host)


def pool() -> ThreadPoolExecutor:
    """The process's long-lived pool for MLflow reads sent beside each other (a promotion's alias read and
    its gate's re-check): built on first use, once per process (a forked child builds its own). Its threads
    only wait on MLflow; work handed to it must not wait on other work handed to it. A pool built per call
    costs a thread start and a join per read, each waiting on the scheduler (issue 20: the overhead's tail)."""
    pid = os.getpid()
    found = _pools.get(pid)
    if found is None:
        with _pools_lock:
            found = _pools.get(pid)
            if found is None:
                found = _pools[pid] = ThreadPoolExecutor(max_workers=POOL_WORKERS, thread_name_prefix="mlflow-read")
    return found


def send_now(executor: Executor, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
    """`executor.submit(fn, *args, **kwargs)`, then give the executor's thread the interpreter at once, so a
    request handed to it goes out now rather than after this thread's next stretch of Python work: CPython
    lets a waiting thread take the GIL only when the running one blocks or after the switch interval (5 ms,
    `sys.getswitchinterval()`). Measured (issue 20): a read submitted before 6 ms of ORM work started 5.1 ms
    late (P50) without this, 0.06 ms with it — on a promotion's path, where the alias read and the gate's
    re-check go out while the gate's database reads run."""
    future = executor.submit(fn, *args, **kwargs)
    time.sleep(0)  # releases the GIL: the woken thread takes it and sends its request
    return future


class Deadline:
    """The end of an action's time budget, in `time.monotonic()` seconds."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.ends_at - time.monotonic())

    def call_timeout(self, *, reserve: float = 0.0) -> float:
        """Seconds one call may take: the gateway's timeout, cut to what is left after `reserve`."""
        return max(0.0, min(float(settings.MLFLOW_REQUEST_TIMEOUT), self.remaining() - reserve))


def _request(method: str, endpoint: str, *, timeout: float, body: dict[str, Any]) -> dict[str, Any]:
    """One attempt through the gateway's transport (mlflow_rest: configured once), within `timeout`."""
    operation = f"{method} {endpoint}"
    if timeout < 0.5:
        raise MlflowUnavailable(f"{operation}: not sent, the action's time budget is spent", operation=operation)
    subject = (str(body.get("name") or body.get("run_id") or ""),)
    return mlflow_rest.request(operation, method, endpoint, body, subject=subject, timeout=timeout, single=True)


def set_model_alias(name: str, alias: str, version: str, *, timeout: float) -> None:
    _request(
        "POST", "/registered-models/alias", timeout=timeout, body={"name": name, "alias": alias, "version": version}
    )


def delete_model_alias(name: str, alias: str, *, timeout: float) -> None:
    _request("DELETE", "/registered-models/alias", timeout=timeout, body={"name": name, "alias": alias})


def set_model_version_tag(name: str, version: str, key: str, value: str, *, timeout: float) -> None:
    _request(
        "POST",
        "/model-versions/set-tag",
        timeout=timeout,
        body={"name": name, "version": str(version), "key": key, "value": value},
    )


def delete_model_version_tag(name: str, version: str, key: str, *, timeout: float) -> None:
    _request(
        "DELETE",
        "/model-versions/delete-tag",
        timeout=timeout,
        body={"name": name, "version": str(version), "key": key},
    )


def get_model_aliases(name: str, *, timeout: float) -> dict[str, str]:
    """alias → version (str) as MLflow shows it now."""
    return get_model_state(name, timeout=timeout)[0]


def get_model_state(name: str, *, timeout: float) -> tuple[dict[str, str], int | None]:
    """(alias → version, creation_timestamp in ms) of a registered model as MLflow shows it now. The creation
    time tells a model deleted and re-created under the same name from the one seen before."""
    model = _request("GET", "/registered-models/get", timeout=timeout, body={"name": name}).get("registered_model", {})
    created = model.get("creation_timestamp")
    aliases = {str(a["alias"]): str(a["version"]) for a in model.get("aliases", [])}
    return aliases, int(created) if created not in (None, "") else None


def get_model_version_tags(name: str, version: str, *, timeout: float) -> dict[str, str]:
    found = _request("GET", "/model-versions/get", timeout=timeout, body={"name": name, "version": str(version)})
    return {str(t["key"]): str(t.get("value", "")) for t in found.get("model_version", {}).get("tags", [])}


def get_model_version_info(name: str, version: str, *, timeout: float) -> tuple[str, str, dict[str, str]]:
    """(run_id, source, tags) of a model version (run_id/source may be ''); MlflowNotFound when it is gone."""
    found = _request("GET", "/model-versions/get", timeout=timeout, body={"name": name, "version": str(version)})
    record = found.get("model_version", {})
    tags = {str(t["key"]): str(t.get("value", "")) for t in record.get("tags", [])}
    return str(record.get("run_id", "") or ""), str(record.get("source", "") or ""), tags


def get_model_version_source(name: str, version: str, *, timeout: float) -> tuple[str, str]:
    """(run_id, source) of a model version (either may be ''); MlflowNotFound when the version is gone."""
    return get_model_version_info(name, version, timeout=timeout)[:2]


def get_model_version_run_id(name: str, version: str, *, timeout: float) -> str:
    """The source run of a model version ('' when it has none); MlflowNotFound when the version is gone."""
    return get_model_version_source(name, version, timeout=timeout)[0]


def get_run_state(run_id: str, *, timeout: float) -> tuple[str, dict[str, float], str]:
    """(lifecycle stage — 'active' or 'deleted' —, latest value of each metric, experiment id) of a run;
    MlflowNotFound when it is gone (purged). NaN and ±inf come back as floats (MLflow sends "NaN", ...)."""
    return _run_state(_request("GET", "/runs/get", timeout=timeout, body={"run_id": run_id}).get("run", {}))


def _run_state(run: dict[str, Any]) -> tuple[str, dict[str, float], str]:
    info = run.get("info", {})
    stage = str(info.get("lifecycle_stage", "active") or "active")
    metrics = {str(m["key"]): float(m["value"]) for m in run.get("data", {}).get("metrics", [])}
    return stage, metrics, str(info.get("experiment_id", "") or "")


def get_experiment_stage(experiment_id: str, *, timeout: float) -> str:
    """An experiment's lifecycle stage ('active' or 'deleted'); MlflowNotFound when it is gone."""
    found = _request("GET", "/experiments/get", timeout=timeout, body={"experiment_id": experiment_id})
    return str(found.get("experiment", {}).get("lifecycle_stage", "active") or "active")


def get_run_metrics(run_id: str, *, timeout: float) -> dict[str, float]:
    """Latest value of each metric of a run (see get_run_state)."""
    return get_run_state(run_id, timeout=timeout)[1]


def get_runs_state(
    run_ids: list[str], experiment_ids: list[str], *, timeout: float
) -> dict[str, tuple[str, dict[str, float], str]]:
    """{run id: (lifecycle stage, latest value of each metric, experiment id)} of these runs (deleted ones too) of these
    experiments, in one `search_runs` request; a run absent from the answer is not in those experiments or
    no longer exists."""
    from mlopsadmin.lib.mlflow_filters import in_list

    body = {
        "experiment_ids": experiment_ids,
        "filter": in_list("attributes.run_id", run_ids),
        "run_view_type": "ALL",
        "max_results": len(run_ids) + 1,
    }
    found = _request("POST", "/runs/search", timeout=timeout, body=body).get("runs", [])
    return {str(run["info"]["run_id"]): _run_state(run) for run in found}
