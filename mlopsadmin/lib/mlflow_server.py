"""Starting a local `mlflow server` process: for the newcomer's demo, the test fixture and bench/.

It runs MLflow's Flask app under gunicorn (small requests ~10 ms instead of ~56 ms with uvicorn's
keep-alive stall) and with the job runner off (it boots 7 consumers and ~1.9 GB for features we do
not use). This module starts a subprocess and never imports mlflow itself.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(
    *, port: int, backend_store_uri: str, artifact_root: Path, workers: int = 2, extra: list[str] | None = None
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        backend_store_uri,
        "--artifacts-destination",
        str(artifact_root),
        "--serve-artifacts",
        "--workers",
        str(workers),
        "--gunicorn-opts",
        "--timeout 120 --keep-alive 5",
        *(extra or []),
    ]


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    env["GIT_PYTHON_REFRESH"] = "quiet"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def start_server(
    *,
    port: int,
    backend_store_uri: str,
    artifact_root: Path,
    log_path: Path,
    workers: int = 2,
    extra: list[str] | None = None,
) -> subprocess.Popen[bytes]:
    artifact_root.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
    return subprocess.Popen(
        server_command(
            port=port, backend_store_uri=backend_store_uri, artifact_root=artifact_root, workers=workers, extra=extra
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
        env=server_env(),
        start_new_session=True,
    )


def wait_healthy(url: str, *, timeout: float = 120.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait for /health to answer (MLflow needs 10-14 s here); fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with code {process.returncode}")
        try:
            if requests.get(url.rstrip("/") + "/health", timeout=2).status_code == 200:
                return
        except requests.exceptions.RequestException:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"mlflow server at {url} not healthy after {timeout:.0f} s")


def stop_server(process: subprocess.Popen[bytes], *, timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, 15)
        process.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        process.wait(timeout=5)
