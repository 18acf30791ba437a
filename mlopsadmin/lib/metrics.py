"""Prometheus instruments measured inside processes (prometheus-client): request latency by view and
MLflow call latency and errors by gateway operation. With PROMETHEUS_MULTIPROC_DIR set (gunicorn workers,
Celery), each process writes its values to files in that folder and a scrape adds them up
(prometheus_client's multiprocess mode); values that live in the database are collected at scrape time
by monitoring.collectors instead."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUEST_SECONDS = Histogram(
    "mlopsadmin_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL name (view), method and status class.",
    ["view", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
MLFLOW_CALL_SECONDS = Histogram(
    "mlopsadmin_mlflow_call_duration_seconds",
    "Time of one MLflow gateway call (one operation, retries included), by operation.",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)
MLFLOW_CALL_ERRORS = Counter(
    "mlopsadmin_mlflow_call_errors_total",
    "MLflow gateway calls that failed, by operation and domain error (MlflowUnavailable, MlflowNotFound…).",
    ["operation", "error"],
)


@contextmanager
def observe_mlflow_call(operation: str) -> Iterator[None]:
    """Time one gateway call; a raised exception counts as an error of its class, then propagates."""
    started = time.perf_counter()
    try:
        yield
    except BaseException as exc:
        MLFLOW_CALL_ERRORS.labels(operation=operation, error=type(exc).__name__).inc()
        raise
    finally:
        MLFLOW_CALL_SECONDS.labels(operation=operation).observe(time.perf_counter() - started)


def observe_request(view: str, method: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(view=view, method=method, status=f"{status // 100}xx").observe(seconds)


def exposition(extra_collectors: Iterable[Any] = ()) -> tuple[bytes, str]:
    """The text exposition of every metric: this process's (or, in multiprocess mode, all processes')
    instruments plus `extra_collectors` (objects with a `collect()`). Returns (body, content type)."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        prometheus_multiprocess.MultiProcessCollector(registry)
    else:
        for metric in (REQUEST_SECONDS, MLFLOW_CALL_SECONDS, MLFLOW_CALL_ERRORS):
            registry.register(metric)
    for collector in extra_collectors:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST
