"""Session-scoped servers shared by every test directory (imported by tests/conftest.py): one real
`celery worker` process, a moto S3 server, a local SMTP server process (aiosmtpd) and a local HTTP
receiver for webhooks, all on 127.0.0.1 with free ports and stopped at the end of the session."""

from __future__ import annotations

import contextlib
import json
import mailbox
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKER_PAGE_SIZE = 7  # tiny pages: every cleanup plan in the worker tests spans several pages
WORKER_SITE_URL = "http://mlopsadmin.test"  # the base of links in notifications sent by the worker
WORKER_GLOBAL_HOOK_PATH = f"/services/global/{uuid.uuid4().hex}"  # the worker's NOTIFY_WEBHOOK_URL path
WORKER_NOTIFY_RETRIES = 2  # the worker gives a notification up after 2 retries (0.3 s, 0.6 s)


def _wait_port(port: int, *, process: subprocess.Popen[bytes] | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server process exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


# --- SMTP ------------------------------------------------------------------------------------------------
@dataclass
class SmtpServer:
    """`python -m aiosmtpd` storing every message in a Maildir; stop() and start() for outage tests."""

    port: int
    maildir: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}"]
            + ["-c", "aiosmtpd.handlers.Mailbox", str(self.maildir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_port(self.port, process=self.process)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def messages(self) -> list[Message]:
        return list(mailbox.Maildir(self.maildir, create=False))


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    from mlopsadmin.lib.mlflow_server import free_port

    server = SmtpServer(port=free_port(), maildir=Path(tempfile.mkdtemp(prefix="mlopsadmin-mail-")) / "Maildir")
    mailbox.Maildir(server.maildir, create=True)
    server.start()
    yield server
    server.stop()


# --- HTTP receiver for webhooks ---------------------------------------------------------------------------
@dataclass
class WebhookReceiver:
    """Records every POST (path, headers, JSON body); `url(name)` is a fresh Slack-like hook address.
    `answer` says how that address answers: "200" (default) or another status, "close" (the socket is
    closed without an answer), "trickle" (the answer arrives one byte a second, for ~40 s), "slow:S" (200
    after S seconds, the request already read)."""

    base: str
    posts: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)

    def url(self, name: str = "hook", *, answer: str = "200") -> str:
        path = f"/services/{name}/{uuid.uuid4().hex}"
        self.answers[path] = answer
        return self.base + path

    def posts_to(self, url: str) -> list[dict[str, Any]]:
        path = url.removeprefix(self.base)
        return [p for p in self.posts if p["path"] == path]


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[WebhookReceiver]:
    received: list[dict[str, Any]] = []
    answers: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body or b"null")})
            answer = answers.get(self.path, "200")
            if answer == "close":
                self.close_connection = True
                return
            if answer.startswith("slow:"):  # the whole answer, 200, after that many seconds
                time.sleep(float(answer.split(":", 1)[1]))
                answer = "200"
            if answer == "trickle":  # a complete answer in ~40 s, each byte well within any per-read timeout
                with contextlib.suppress(OSError):  # the client gave up
                    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
                        time.sleep(1)
                        self.wfile.write(bytes([byte]))
                self.close_connection = True
                return
            self.send_response(int(answer))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield WebhookReceiver(base=f"http://127.0.0.1:{server.server_address[1]}", posts=received, answers=answers)
    server.shutdown()
    server.server_close()


# --- S3 ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A moto S3 server for the session; its URL. It does not touch settings: a session fixture first used
    inside a test's `settings` override would write into that override and lose it when the test ends (the
    next test then has no S3 credentials). Tests use `s3_settings` for that."""
    from moto.server import ThreadedMotoServer

    from mlopsadmin.lib.mlflow_server import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_settings(s3_server: str, settings: Any) -> str:
    """Point this test's S3 settings (endpoint, credentials, region) at the session's S3 server."""
    settings.S3_ENDPOINT_URL, settings.S3_REGION = s3_server, "us-east-1"
    settings.S3_ACCESS_KEY_ID = settings.S3_SECRET_ACCESS_KEY = "testing"
    return s3_server


def _worker_database_env() -> dict[str, str]:
    from django.conf import settings
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return {"SQLITE_PATH": str(name), "DATABASE_URL": ""}
    url = os.environ.get("DATABASE_URL") or settings.DATABASE_URL
    base, _, _ = url.rpartition("/")
    return {"DATABASE_URL": f"{base}/{name}"}


def _point_app_at(broker: str, queue_name: str) -> None:
    """Send this process's tasks to the test worker: set the broker and queue and drop any connection
    pool already opened on another broker (Celery keeps pools once created)."""
    from mlopsadmin.celery import app

    if app.conf.broker_url != broker:
        app.conf.broker_url = broker
        app._pool = None  # the next send opens a pool on the test broker
        app.amqp._producer_pool = None
    app.conf.task_default_queue = queue_name
    app.conf.task_always_eager = False


@dataclass
class WorkerSession:
    """The session worker's broker, queue and environment (a test starts extra workers from it)."""

    broker: str
    queue_name: str
    env: dict[str, str]
    workdir: Path


@pytest.fixture
def celery_worker(_celery_worker_process: WorkerSession, s3_settings: str) -> str:
    """A real `celery worker` subprocess (one per session); every test re-points the app at it, and at the
    worker's S3 server (the test's own process reads and writes the same buckets)."""
    _point_app_at(_celery_worker_process.broker, _celery_worker_process.queue_name)
    return _celery_worker_process.queue_name


def spawn_worker(env: dict[str, str], queue_name: str, log_path: Path) -> subprocess.Popen[bytes]:
    """Start `celery worker --pool solo` on `queue_name` (its own process group, so a test can SIGKILL it)
    and wait until it is ready; its output goes to `log_path`."""
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "mlopsadmin", "worker", "--pool", "solo", "-Q", queue_name]
            + ["--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited: {log_path.read_text()[-3000:]}")
        if b"ready." in log_path.read_bytes():
            return process
        time.sleep(0.3)
    process.kill()
    raise TimeoutError(f"celery worker not ready: {log_path.read_text()[-3000:]}")


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass
class ExtraWorker:
    process: subprocess.Popen[bytes]
    queue_name: str
    log_path: Path


class ExtraWorkers:
    """Real worker processes of one test: `start(**env)` → an ExtraWorker on a queue of its own (the app is
    pointed at it), with the session worker's environment plus `env` (e.g. MLFLOW_TRACKING_URI of a fault
    proxy); tests may SIGKILL it. `use_session_worker()` points the app back at the session worker."""

    def __init__(self, session: WorkerSession) -> None:
        self.session = session
        self.started: list[ExtraWorker] = []

    def start(self, **env: str) -> ExtraWorker:
        queue_name = f"extra-{uuid.uuid4().hex[:10]}"
        log_path = self.session.workdir / f"{queue_name}.log"
        process = spawn_worker(
            {**self.session.env, "CELERY_TASK_DEFAULT_QUEUE": queue_name, **env}, queue_name, log_path
        )
        self.started.append(ExtraWorker(process, queue_name, log_path))
        _point_app_at(self.session.broker, queue_name)
        return self.started[-1]

    def use_session_worker(self) -> None:
        _point_app_at(self.session.broker, self.session.queue_name)


@pytest.fixture
def extra_worker(_celery_worker_process: WorkerSession) -> Iterator[ExtraWorkers]:
    """Extra real worker processes for one test (see ExtraWorkers); whatever is left is stopped at the end."""
    workers = ExtraWorkers(_celery_worker_process)
    yield workers
    for worker in workers.started:
        stop_worker(worker.process)
    workers.use_session_worker()


@pytest.fixture(scope="session")
def _celery_worker_process(
    django_db_setup: None,
    django_db_blocker: Any,
    mlflow_server: str,
    s3_server: str,
    smtp_server: SmtpServer,
    webhook_receiver: WebhookReceiver,
) -> Iterator[WorkerSession]:
    """The worker subprocess; yields its broker, queue and environment."""
    from django.conf import settings

    workdir = Path(tempfile.mkdtemp(prefix="mlopsadmin-worker-"))
    # With Redis (CI) the worker shares the app's own broker, so nothing needs re-pointing; without it, a
    # SQLite broker file of the test's own.
    broker = settings.CELERY_BROKER_URL if settings.REDIS_URL else f"sqla+sqlite:///{workdir / 'broker.sqlite3'}"
    queue_name = f"worker-tests-{uuid.uuid4().hex[:10]}"
    _point_app_at(broker, queue_name)
    env = {
        **os.environ,
        **_worker_database_env(),
        "DJANGO_SETTINGS_MODULE": "mlopsadmin.settings",
        "SECRET_KEY": "tests-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "AUDIT_HMAC_KEY": settings.AUDIT_HMAC_KEY,
        "MLOPSADMIN_VAR_DIR": str(workdir),
        "MLFLOW_TRACKING_URI": mlflow_server,
        # the session server's own store (SQLite or PostgreSQL), whatever the settings point at just now
        "MLFLOW_BACKEND_STORE_URI": os.environ["MLOPSADMIN_TEST_MLFLOW_STORE"],
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        # what the worker queues itself (a notification raised by a task it runs) comes back to it
        "CELERY_TASK_DEFAULT_QUEUE": queue_name,
        "S3_ENDPOINT_URL": s3_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MAINTENANCE_RUNS_PAGE_SIZE": str(WORKER_PAGE_SIZE),
        "MAINTENANCE_ARTIFACT_WARNING_BYTES": "1",  # every check with artifacts warns: alerts are visible
        "MAINTENANCE_ARTIFACT_CRITICAL_BYTES": str(50 * 1024**3),
        "MLFLOW_ARTIFACTS_DESTINATION": "",
        "NOTIFY_EMAILS": "",
        "NOTIFY_WEBHOOK_URL": webhook_receiver.base + WORKER_GLOBAL_HOOK_PATH,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.port),
        "EMAIL_TIMEOUT": "5",
        "SITE_URL": WORKER_SITE_URL,
        "NOTIFY_MAX_RETRIES": str(WORKER_NOTIFY_RETRIES),
        "NOTIFY_RETRY_DELAY": "0.3",
        "NOTIFY_WEBHOOK_TIMEOUT": "5",
    }
    log_path = workdir / "worker.log"
    process = spawn_worker(env, queue_name, log_path)
    os.environ["MLOPSADMIN_TEST_WORKER_LOG"] = str(log_path)
    yield WorkerSession(broker=broker, queue_name=queue_name, env=env, workdir=workdir)
    stop_worker(process)
