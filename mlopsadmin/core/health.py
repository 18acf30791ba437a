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
    if not mlflow_client.server_health(timeout=3):
        raise ConnectionError(f"no healthy answer from {shown}/health")
    # /health answers without credentials: a refused service account (401/403) must fail here too.
    return f"{shown}: {mlflow_client.credentials_check(timeout=3)}"


def health_report() -> dict[str, Any]:
    checks = {"database": _timed(_database), "broker": _timed(_broker), "mlflow": _timed(_mlflow)}
    return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}
