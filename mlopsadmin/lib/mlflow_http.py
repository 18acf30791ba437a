"""Raw HTTP against the MLflow tracking server (health, version, authentication probes) and call timing.

Part of the MLflow gateway (`mlopsadmin/lib/mlflow_client.py` is its public face). Requests use the
service account's basic-auth credentials and the configured request timeout; failures are raised as
`MlflowError` (mlflow_errors.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
from django.conf import settings

from mlopsadmin.lib.mlflow_connection import basic_auth, tracking_uri
from mlopsadmin.lib.mlflow_errors import MlflowError, MlflowUnavailable, translate_error


def server_get(path: str, *, authenticated: bool = True, timeout: float | None = None) -> requests.Response:
    """A raw GET against the tracking server (health, version, auth probes)."""
    url = tracking_uri().rstrip("/") + path
    try:
        return requests.get(
            url, auth=basic_auth() if authenticated else None, timeout=timeout or settings.MLFLOW_REQUEST_TIMEOUT
        )
    except requests.exceptions.RequestException as exc:
        raise translate_error(exc, f"GET {path}") from exc


def server_health(*, timeout: float = 3.0) -> bool:
    """True when GET /health answers 200 within `timeout` seconds; False when the server is unreachable."""
    try:
        return server_get("/health", timeout=timeout).status_code == 200
    except MlflowUnavailable:
        return False


def server_version() -> str:
    """The tracking server's MLflow version (GET /version); MlflowError when it does not answer 200."""
    response = server_get("/version")
    if response.status_code != 200:
        raise MlflowError(f"GET /version answered {response.status_code}", operation="version")
    return response.text.strip()


def client_version() -> str:
    """The installed MLflow library's version."""
    from importlib.metadata import version

    return version("mlflow")  # the installed package's version, without importing it


def timed_call(operation: Callable[[], Any]) -> float:
    """Milliseconds one gateway call took (used by the latency probe)."""
    start = time.perf_counter()
    operation()
    return (time.perf_counter() - start) * 1000.0
