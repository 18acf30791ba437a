"""What /healthz reports: the database, the broker and MLflow, each reachable or not."""

from __future__ import annotations

import time
from typing import Any

from django.db import connection

from mlopsadmin.lib import mlflow_client


def _timed(check: Any) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # a health probe reports every failure as data
        detail, ok = f"{type(exc).__name__}: {str(exc)[:200]}", False
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - start) * 1000, 1)}


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def _broker() -> str:
    from mlopsadmin.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)
        return str(conn.transport_cls)


def _mlflow() -> str:
    shown = mlflow_client.display_uri(mlflow_client.tracking_uri())
    status = mlflow_client.health_status(timeout=3)
    if status is None:
        raise ConnectionError(f"no answer from {shown}/health")
    # /health answers without credentials: a refused service account (401/403) must fail here too. When
    # /health itself was refused or failed (a proxy guarding every path, a 404 page, a rate limit), this
    # authenticated read says what answered, instead of calling an answer a connection error.
    checked = mlflow_client.credentials_check(timeout=3)
    if status != 200:
        raise mlflow_client.MlflowError(f"{shown}/health answered HTTP {status}")
    return f"{shown}: {checked}"


def health_report() -> dict[str, Any]:
    checks = {"database": _timed(_database), "broker": _timed(_broker), "mlflow": _timed(_mlflow)}
    return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}
