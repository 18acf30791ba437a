"""A real `mlflow server --app-name basic-auth` process for the permission tests (its own user store)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mlopsadmin.lib import mlflow_server as server

SERVICE_USER = "mlopsadmin-svc"
SERVICE_PASSWORD = "svc-password-for-tests-9f3a"


@contextlib.contextmanager
def basic_auth_server(workdir: Path | None = None) -> Iterator[str]:
    """Start it (its store is `workdir`/mlflow.db, a temp folder by default); yields its URL. The admin
    user is SERVICE_USER."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="mlopsadmin-mlflow-auth-"))
    ini = workdir / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{workdir / 'auth.db'}\n"
        f"admin_username = {SERVICE_USER}\nadmin_password = {SERVICE_PASSWORD}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "auth_cache_ttl_seconds = 300\n"  # one password hash per user and worker, not one per request
    )
    saved = {name: os.environ.get(name) for name in ("MLFLOW_AUTH_CONFIG_PATH", "MLFLOW_FLASK_SERVER_SECRET_KEY")}
    os.environ["MLFLOW_AUTH_CONFIG_PATH"] = str(ini)  # read by the server process only
    os.environ["MLFLOW_FLASK_SERVER_SECRET_KEY"] = "tests-flask-secret"
    port = server.free_port()
    try:
        process = server.start_server(
            port=port,
            backend_store_uri=f"sqlite:///{workdir / 'mlflow.db'}",
            artifact_root=workdir / "artifacts",
            log_path=workdir / "mlflow.log",
            workers=1,
            extra=["--app-name", "basic-auth"],
        )
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_healthy(url, process=process)
        yield url
    finally:
        server.stop_server(process)
