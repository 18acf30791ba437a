"""A second real MLflow server for the environment tests (issue 22): "dev", with its own SQLite store and
artifact root, started once per session; the session server (tests/conftest.py) is "prod". `stop()` and
`start()` (same port, same store) let a test take the source server away."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

import pytest

from mlopsadmin.lib import mlflow_server as server


@dataclass
class DevServer:
    url: str
    port: int
    workdir: Path
    process: Popen[bytes] | None = None

    def start(self) -> None:
        self.process = server.start_server(
            port=self.port,
            backend_store_uri=f"sqlite:///{self.workdir / 'dev.db'}",
            artifact_root=self.workdir / "dev-artifacts",
            log_path=self.workdir / "dev.log",
        )
        server.wait_healthy(self.url, process=self.process)

    def stop(self) -> None:
        if self.process is not None:
            server.stop_server(self.process)
            self.process = None


@pytest.fixture(scope="session")
def dev_mlflow() -> Iterator[DevServer]:
    port = server.free_port()
    dev = DevServer(f"http://127.0.0.1:{port}", port, Path(tempfile.mkdtemp(prefix="mlopsadmin-dev-")))
    dev.start()
    yield dev
    dev.stop()


@pytest.fixture(autouse=True)
def _copies_in_the_request(settings) -> None:  # type: ignore[no-untyped-def]
    """The tests of the copy itself (artifacts, gate, lineage, clean-up, pages) run it in the request, so
    they read its outcome at once; the queued path (a real Celery worker) is test_queued_copy.py."""
    settings.ENVIRONMENT_COPY_QUEUED = False
