"""Start everything a newcomer needs: a local MLflow server, migrations, demo data, a Celery worker,
Celery beat and the web server. Ctrl-C stops them all."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.management import call_command

from mlopsadmin.core.commands import ProjectCommand
from mlopsadmin.core.demo import demo_summary
from mlopsadmin.lib import mlflow_server


class Command(ProjectCommand):
    help = "Run the dashboard on embedded defaults with demo data (web + worker + beat + local MLflow)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-seed", action="store_true")
        parser.add_argument(
            "--exit-after-start",
            action="store_true",
            help="Start everything, check the login page answers, then stop (used by tests).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Quiet start: third-party warnings and INFO logs go nowhere here (the children log to var/logs).
        warnings.filterwarnings("ignore")
        logging.getLogger().setLevel(logging.WARNING)
        for name in ("mlflow", "alembic", "urllib3", "botocore"):
            logging.getLogger(name).setLevel(logging.ERROR)
        var = Path(settings.VAR_DIR)
        logs = var / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        children: list[subprocess.Popen[bytes]] = []
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the children on SIGTERM too
        try:
            if self._wants_local_mlflow():
                children.append(self._start_mlflow(var, logs))
            call_command("migrate", interactive=False, verbosity=0)
            if not options["no_seed"]:
                self.stdout.write("Seeding demo data (teams and people from mlopsadmin/core/demo_config.toml) …")
                with open(logs / "seed.log", "a") as seed_log, redirect_stdout(seed_log), redirect_stderr(seed_log):
                    call_command("seed_demo", "--capacity", stdout=seed_log)  # MLflow prints each version made
            self._print_logins()  # before the web server answers: whoever waits for the page has them
            python = sys.executable
            for name, command in [
                ("worker", [python, "-m", "celery", "-A", "mlopsadmin", "worker", "-l", "info", "--concurrency", "2"]),
                (
                    "beat",
                    [
                        python,
                        "-m",
                        "celery",
                        "-A",
                        "mlopsadmin",
                        "beat",
                        "-l",
                        "info",
                        "-s",
                        str(var / "celerybeat-schedule"),
                    ],
                ),
                ("web", [python, "manage.py", "runserver", f"127.0.0.1:{options['port']}", "--noreload"]),
            ]:
                log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
                children.append(
                    subprocess.Popen(
                        command, stdout=log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR, start_new_session=True
                    )
                )
            url = f"http://127.0.0.1:{options['port']}/"
            self._wait_for(url + "accounts/login/")
            self._print_running(url, logs)
            if options["exit_after_start"]:
                return
            while all(child.poll() is None for child in children):
                time.sleep(1)
            self.stderr.write("A process stopped; see the logs in " + str(logs))
        except KeyboardInterrupt:
            pass
        finally:
            for child in reversed(children):
                mlflow_server.stop_server(child)

    def _wants_local_mlflow(self) -> bool:
        uri = urlparse(settings.MLFLOW_TRACKING_URI)
        return "MLFLOW_TRACKING_URI" not in os.environ and uri.hostname in {"127.0.0.1", "localhost"}

    def _start_mlflow(self, var: Path, logs: Path) -> subprocess.Popen[bytes]:
        store = var / "mlflow"
        store.mkdir(parents=True, exist_ok=True)
        self.stdout.write(f"Starting MLflow on {settings.MLFLOW_TRACKING_URI} (store in {store}) …")
        backend_store_uri = f"sqlite:///{store / 'mlflow.db'}"
        # Tell mlopsadmin (this process and the web/worker/beat children) where the demo server keeps its
        # runs and artifacts, so capacity checks, DB size probes and fast cleanup planning measure them.
        for name, value in [
            ("MLFLOW_BACKEND_STORE_URI", backend_store_uri),
            ("MLFLOW_ARTIFACTS_DESTINATION", str(store / "artifacts")),
        ]:
            os.environ.setdefault(name, value)
            setattr(settings, name, os.environ[name])
        process = mlflow_server.start_server(
            port=settings.MLFLOW_LOCAL_PORT,
            backend_store_uri=backend_store_uri,
            artifact_root=store / "artifacts",
            log_path=logs / "mlflow.log",
        )
        mlflow_server.wait_healthy(settings.MLFLOW_TRACKING_URI, process=process)
        return process

    def _wait_for(self, url: str, timeout: float = 60) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.exceptions.RequestException:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")

    def _print_logins(self) -> None:
        summary = demo_summary()
        self.stdout.write(f"\nDemo logins (password: {summary['password']}):")
        width = max(len(u) for u in summary["logins"])
        self.stdout.write(f"  {'username':<{width}}  role")
        self.stdout.write(f"  {'-' * width}  {'-' * 30}")
        for username, role in summary["logins"].items():
            self.stdout.write(f"  {username:<{width}}  {role}")
        self.stdout.flush()

    def _print_running(self, url: str, logs: Path) -> None:
        self.stdout.write(self.style.SUCCESS(f"\nmlopsadmin is running at {url}"))
        self.stdout.write(f"MLflow UI: {settings.MLFLOW_UI_URL}   logs: {logs}")
        self.stdout.write("\nPress Ctrl-C to stop.\n")
        self.stdout.flush()
