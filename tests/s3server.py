"""`moto_server` as a process of its own on 127.0.0.1: stopping it is a refused connection, as when a real
S3-compatible endpoint is down. Its objects live in its memory, so a restarted server starts empty."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from mlopsadmin.lib.mlflow_server import free_port


class MotoProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        binary = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
        self.command = [binary, "-H", "127.0.0.1", "-p", str(self.port)]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (again, on the same port) and wait until it accepts connections."""
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.process.returncode}")
            time.sleep(0.1)
        raise TimeoutError("moto_server did not listen within 30 s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
