"""Connecting to the MLflow tracking server: the URI, credentials and timeouts of the one `MlflowClient`.

Part of the MLflow gateway (`mlopsadmin/lib/mlflow_client.py` is its public face). MLflow's own request
timeout and retry settings are set here, before `mlflow` is first imported, so a dead or slow server fails
fast instead of MLflow's default of 7 retries with backoff and a 120 s timeout.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from django.conf import settings

from mlopsadmin.lib.uris import without_credentials

# MLflow reads these per request; set them before the first call so a dead or slow server fails fast
# instead of MLflow's default of 7 retries with backoff and a 120 s timeout.
os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(int(max(1, settings.MLFLOW_REQUEST_TIMEOUT)))
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(settings.MLFLOW_REQUEST_MAX_RETRIES)
os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "1"
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # no phoning home (air-gapped), no flaky session ids

# `mlflow` itself is imported on the first call that needs it (client(), use_fluent_api()), not here:
# importing it takes 1-5 s, and most manage.py commands and page imports never talk to MLflow.
if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


def tracking_uri() -> str:
    """The configured tracking URI (settings.MLFLOW_TRACKING_URI; credentials already split out)."""
    return str(settings.MLFLOW_TRACKING_URI)


def ui_url() -> str:
    """Where people open the MLflow UI (settings.MLFLOW_UI_URL)."""
    return str(settings.MLFLOW_UI_URL)


def display_uri(uri: str) -> str:
    """A URI safe to show on a page or in a log line: any user:password part is removed."""
    return without_credentials(uri)


def basic_auth() -> tuple[str, str] | None:
    """(user, password) of the service account for raw HTTP calls to the server, or None without one."""
    if settings.MLFLOW_TRACKING_USERNAME:
        return (settings.MLFLOW_TRACKING_USERNAME, settings.MLFLOW_TRACKING_PASSWORD)
    return None


_client_cache: dict[tuple[str, str, str], MlflowClient] = {}


def client() -> MlflowClient:
    """The one MlflowClient for the configured URI and service account (rebuilt when settings change)."""
    uri = tracking_uri()
    username = settings.MLFLOW_TRACKING_USERNAME
    password = settings.MLFLOW_TRACKING_PASSWORD
    key = (uri, username, password)
    if key not in _client_cache:
        # basic-auth credentials are read from the environment by MLflow's REST layer
        if username:
            os.environ["MLFLOW_TRACKING_USERNAME"] = username
            os.environ["MLFLOW_TRACKING_PASSWORD"] = password
        else:  # a previous configuration's credentials must not linger
            os.environ.pop("MLFLOW_TRACKING_USERNAME", None)
            os.environ.pop("MLFLOW_TRACKING_PASSWORD", None)
        from mlflow.tracking import MlflowClient

        _client_cache.clear()
        _client_cache[key] = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return _client_cache[key]


def use_fluent_api() -> None:
    """Point MLflow's fluent API (`mlflow.register_model`, `mlflow.pyfunc`) at the configured server."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_registry_uri(tracking_uri())
