"""Fault injection with real processes: an HTTP proxy in front of the real MLflow server that slows
writes down or freezes after a write was applied (the server committed it, the caller never hears),
and a private redis-server that tests may kill (never the shared one)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from mlopsadmin.lib.mlflow_server import free_port

WRITE_METHODS = ("POST", "DELETE", "PATCH", "PUT")
HOLD_LIMIT = 60.0  # a frozen request is released after this at the latest (bounded test)


class FaultProxy:
    """Forwards every request to `upstream`. `write_delay` seconds pass before each write is forwarded
    (a slow server); after `freeze_after_writes` writes were forwarded, the proxy freezes: the response of
    that write and every later request wait until `thaw()` (a server stopped right after a commit).
    `write_path`: only writes whose path contains it are slowed and counted (e.g. "/runs/delete").
    `drop_after_writes`: from that counted write on, each one is applied by MLflow and then its connection is
    closed without an answer (a response lost after the commit); other requests are answered normally."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.write_delay = 0.0
        self.freeze_after_writes: int | None = None
        self.fail_with: int | None = None  # answer every request with this status (MLflow's own error) ...
        self.fail_body = b"Internal Server Error"  # ... and this body: e.g. a proxy's HTML error or login page
        self.write_path = ""
        self.drop_after_writes: int | None = None
        self.writes = 0
        self.seen: list[str] = []  # "METHOD /path?query" of every request forwarded, in arrival order
        self.in_flight = 0  # counted writes being forwarded now, and the most at once
        self.max_in_flight = 0
        self.frozen = False
        self._thawed = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def thaw(self) -> None:
        self._thawed.set()

    def _wait_if_frozen(self) -> None:
        if self.frozen:
            self._thawed.wait(HOLD_LIMIT)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.fail_with is not None:
                    self.send_response(proxy.fail_with)
                    self.send_header("Content-Type", "text/html" if b"<html" in proxy.fail_body else "text/plain")
                    self.send_header("Content-Length", str(len(proxy.fail_body)))
                    self.end_headers()
                    self.wfile.write(proxy.fail_body)
                    return
                is_write = self.command in WRITE_METHODS and proxy.write_path in self.path
                proxy._wait_if_frozen()
                with proxy._lock:
                    proxy.seen.append(f"{self.command} {self.path}")
                    if is_write:
                        proxy.in_flight += 1
                        proxy.max_in_flight = max(proxy.max_in_flight, proxy.in_flight)
                if is_write and proxy.write_delay:
                    time.sleep(proxy.write_delay)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                try:
                    upstream = requests.request(
                        self.command, proxy.upstream + self.path, data=body, headers=headers, timeout=HOLD_LIMIT
                    )
                finally:
                    if is_write:
                        with proxy._lock:
                            proxy.in_flight -= 1
                if is_write:
                    with proxy._lock:
                        proxy.writes += 1
                        if proxy.freeze_after_writes is not None and proxy.writes >= proxy.freeze_after_writes:
                            proxy.frozen = True
                        drop = proxy.drop_after_writes is not None and proxy.writes >= proxy.drop_after_writes
                    if drop:  # committed; the caller never hears
                        self.close_connection = True
                        return
                    proxy._wait_if_frozen()  # the write is committed; its answer is lost while frozen
                with contextlib.suppress(OSError):  # the caller may have given up meanwhile
                    self.send_response(upstream.status_code)
                    self.send_header("Content-Type", upstream.headers.get("Content-Type", "application/json"))
                    self.send_header("Content-Length", str(len(upstream.content)))
                    self.end_headers()
                    self.wfile.write(upstream.content)

            do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _forward

        return Handler

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thaw()
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of the test's own on a free port: (url, process). Kill it freely."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="mlopsadmin-redis-"))
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(50):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            break
        time.sleep(0.1)
    try:
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        process.kill()
        process.wait(10)


@contextlib.contextmanager
def frozen(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """The process stopped (SIGSTOP) inside the block and resumed (SIGCONT) after it: a server that
    still accepts connections (the kernel's backlog) but never answers."""
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


@contextlib.contextmanager
def private_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A private redis-server as this process's Celery broker: (url, process); kill or freeze it freely.
    The app's connection pools are dropped before and after, so the senders use it, then the old one."""
    from django.conf import settings

    from mlopsadmin.celery import app  # the app the senders use (mlopsadmin.task_queue)

    # the socket timeouts settings.py gives a Redis broker: the suite's own broker may be the embedded SQLite
    # one (no REDIS_URL), whose options have none, and a frozen broker would then hold the publish for good
    timeout = settings.CELERY_BROKER_SOCKET_TIMEOUT
    options_before = app.conf.get("broker_transport_options") or {}
    with private_redis() as (url, process):
        monkeypatch.setattr(app.conf, "broker_url", url)
        monkeypatch.setattr(app.conf, "broker_write_url", url)  # what publishing uses
        app.conf.broker_transport_options = {
            **options_before,
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
        }
        monkeypatch.setattr(app, "_pool", None)
        monkeypatch.setattr(app.amqp, "_producer_pool", None)
        try:
            yield url, process
        finally:
            app.conf.broker_transport_options = options_before
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
