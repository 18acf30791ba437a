"""Raw HTTP against the MLflow tracking server (health, version, authentication probes) and call timing.

Part of the MLflow gateway (`mlopsadmin/lib/mlflow_client.py` is its public face). Requests use the
service account's basic-auth credentials and the configured request timeout; failures are raised as
`MlflowError` (mlflow_errors.py). `requests` is imported on the first call: every process imports the
gateway, few start by probing the server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings

from mlopsadmin.lib.mlflow_connection import basic_auth, tracking_uri
from mlopsadmin.lib.mlflow_errors import (
    MlflowError,
    MlflowUnavailable,
    answer_error,
    not_mlflow,
    refusal_error,
    translate_error,
)

if TYPE_CHECKING:
    import requests


def server_get(path: str, *, authenticated: bool = True, timeout: float | None = None) -> requests.Response:
    """A raw GET against the tracking server (health, version, auth probes)."""
    import requests

    url = tracking_uri().rstrip("/") + path
    try:
        return requests.get(
            url, auth=basic_auth() if authenticated else None, timeout=timeout or settings.MLFLOW_REQUEST_TIMEOUT
        )
    except requests.exceptions.RequestException as exc:
        raise translate_error(exc, f"GET {path}") from exc


def server_health(*, timeout: float = 3.0) -> bool:
    """True when GET /health answers 200 within `timeout` seconds; False when the server is unreachable."""
    return health_status(timeout=timeout) == 200


def health_status(*, timeout: float = 3.0) -> int | None:
    """The HTTP status GET /health answers within `timeout` seconds; None when nothing answers."""
    try:
        return server_get("/health", timeout=timeout).status_code
    except MlflowUnavailable:
        return None


CREDENTIALS_PROBE_PATH = "/api/2.0/mlflow/experiments/search?max_results=1"


def credentials_check(*, timeout: float = 3.0) -> str:
    """One authenticated read as the service account. Returns what was checked; raises MlflowAuthFailed
    (401: credentials refused), MlflowPermissionDenied (403), MlflowServerError (5xx), MlflowRateLimited
    (429), MlflowNoRoute (a 404 page that is not MLflow's), another MlflowError for any other answer, or
    MlflowUnavailable.
    Used by /healthz and the checklist's authentication probe: a refused login is not an outage."""
    response = server_get(CREDENTIALS_PROBE_PATH, timeout=timeout)
    status = response.status_code
    operation = f"GET {CREDENTIALS_PROBE_PATH.split('?')[0]}"
    if status in (401, 403):
        raise refusal_error(status, "", "search_experiments", (), response.text)
    if status != 200:
        raise answer_error(status, response.text, operation)
    try:
        response.json()
    except ValueError:
        raise not_mlflow(operation, response.text) from None
    user = settings.MLFLOW_TRACKING_USERNAME
    return f"service account {user!r} can read" if user else "reads answered without credentials"


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
