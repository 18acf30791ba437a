"""Shared fixtures: a real `mlflow server` process (session), demo data in it, named personas,
and the rule that CI may not skip PostgreSQL, Redis or browser tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import (  # noqa: F401 - session servers shared by every test directory
    _celery_worker_process,
    celery_worker,
    extra_worker,
    s3_server,
    s3_settings,
    smtp_server,
    webhook_receiver,
)

# Playwright's sync API runs an event loop in the test thread; Django's ORM must still be usable there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

REQUIRED_MARKERS = ("postgres", "redis", "browser")
_marker_counts: dict[str, dict[str, int]] = {m: {"passed": 0, "failed": 0, "skipped": 0} for m in REQUIRED_MARKERS}


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    if not getattr(settings._wrapped, "SECRET_KEY", ""):
        settings.SECRET_KEY = "tests-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
    if not getattr(settings._wrapped, "AUDIT_HMAC_KEY", ""):
        settings.AUDIT_HMAC_KEY = "tests-only-audit-hmac-key"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast personas
    # Per-process cache: parallel test runs must not share rate-limit counters.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Tests serve plain http on loopback (test client, live_server): no https redirect, no Secure cookies.
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate-limit counters and cached values never leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _broker_not_marked_down() -> Iterator[None]:
    """A broker that one test killed or froze is remembered as down for 30 s by this process's senders
    (mlopsadmin.task_queue): that memory never carries into the next test (a later test's broker may even
    get the same port)."""
    from mlopsadmin import task_queue

    task_queue._down_until.clear()
    yield
    task_queue._down_until.clear()


def services_required() -> bool:
    return os.environ.get("MLOPSADMIN_REQUIRE_SERVICES", "") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    markers = [m for m in REQUIRED_MARKERS if item.get_closest_marker(m)]
    if not markers:
        return
    if report.skipped and services_required():
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: a {'/'.join(markers)} test was skipped but CI requires it to run"
    if report.when == "call" or report.skipped:
        for marker in markers:
            _marker_counts[marker][report.outcome] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    line = ", ".join(
        f"{m}: {c['passed']} passed/{c['failed']} failed/{c['skipped']} skipped" for m, c in _marker_counts.items()
    )
    terminalreporter.write_line(f"service-backed tests: {line}")
    summary_path = os.environ.get("MLOPSADMIN_MARKER_SUMMARY")
    if summary_path:
        Path(summary_path).write_text(
            "\n".join(f"{m} {c['passed']} {c['failed']} {c['skipped']}" for m, c in _marker_counts.items()) + "\n"
        )


# --- The real MLflow server ------------------------------------------------------------------
@contextlib.contextmanager
def seeded_mlflow_server(
    *, backend: str | None = None, seed: bool = True
) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """Start a real `mlflow server` subprocess on a free port (SQLite in a temp folder unless `backend`
    is given), point the gateway at it, seed the demo experiments/models; yields (url, backend, process)
    and restores the previous settings afterwards. Outage tests stop the process themselves."""
    from django.conf import settings

    from mlopsadmin.lib import mlflow_server as server

    workdir = Path(tempfile.mkdtemp(prefix="mlopsadmin-mlflow-"))
    backend = backend or f"sqlite:///{workdir / 'mlflow.db'}"
    port = server.free_port()
    process = server.start_server(
        port=port, backend_store_uri=backend, artifact_root=workdir / "artifacts", log_path=workdir / "mlflow.log"
    )
    url = f"http://127.0.0.1:{port}"
    # Change and restore the very settings object that is current now. Restoring through `settings` would
    # write into whatever override a test pushed meanwhile (pytest-django's `settings` fixture) and leave
    # this server's URI and store in the real settings for the rest of the session, after it has stopped.
    target = settings._wrapped
    names = ("MLFLOW_TRACKING_URI", "MLFLOW_UI_URL", "MLFLOW_BACKEND_STORE_URI")
    previous = [getattr(target, name) for name in names]

    def put(values: tuple[str, ...] | list[str]) -> None:
        for name, value in zip(names, values, strict=True):
            setattr(target, name, value)
            settings.__dict__.pop(name, None)  # LazySettings caches what it has read

    try:
        server.wait_healthy(url, process=process)
        put((url, url, backend))
        if seed:
            from mlopsadmin.core.demo import seed_demo

            seed_demo(with_users=False)
        yield url, backend, process
    finally:
        put(previous)
        server.stop_server(process)


@pytest.fixture(scope="session")
def mlflow_server(django_db_blocker: object) -> Iterator[str]:
    """The session's real MLflow server: SQLite in a temp folder, or the backend named by
    MLOPSADMIN_TEST_MLFLOW_BACKEND (CI: PostgreSQL). Seeded once with the demo experiments/models."""
    with seeded_mlflow_server(backend=os.environ.get("MLOPSADMIN_TEST_MLFLOW_BACKEND")) as (url, backend, _):
        os.environ["MLOPSADMIN_TEST_MLFLOW_URL"] = url
        os.environ["MLOPSADMIN_TEST_MLFLOW_STORE"] = backend  # its store, for worker processes (`mlflow gc`)
        yield url


@pytest.fixture
def mlflow(mlflow_server: str, settings: object) -> str:
    """Use in tests that read or write MLflow: points the gateway at the session's server."""
    settings.MLFLOW_TRACKING_URI = mlflow_server  # type: ignore[attr-defined]
    settings.MLFLOW_UI_URL = mlflow_server  # type: ignore[attr-defined]
    return mlflow_server


# --- Personas --------------------------------------------------------------------------------
@pytest.fixture
def personas(db: None) -> dict[str, object]:
    """Teams search/fraud/recommendation/churn and one user per persona (see mlopsadmin/core/demo_config.toml):
    admin, lead_search, lead_fraud, member_search, member_fraud, operator, auditor, outsider."""
    from django.contrib.auth.models import User

    from mlopsadmin.core.demo import SeedReport, seed_users_and_teams

    seed_users_and_teams(SeedReport())
    return {user.username: user for user in User.objects.all()}


@pytest.fixture
def login(client: object, personas: dict[str, object]):  # type: ignore[no-untyped-def]
    """login("lead_search") logs the Django test client in as that persona and returns the client."""

    def _login(username: str):  # type: ignore[no-untyped-def]
        client.force_login(personas[username])  # type: ignore[attr-defined]
        return client

    return _login


@pytest.fixture
def demo_password() -> str:
    from mlopsadmin.core.demo import DEMO_PASSWORD

    return DEMO_PASSWORD


# --- Browser ---------------------------------------------------------------------------------
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def browser_login(page: object, live_server: object, personas: dict[str, object], demo_password: str):  # type: ignore[no-untyped-def]
    """browser_login("operator") logs in through the real login form and returns the page."""

    def _login(username: str):  # type: ignore[no-untyped-def]
        page.goto(f"{live_server.url}/accounts/login/")  # type: ignore[attr-defined]
        page.fill("input[name=username]", username)  # type: ignore[attr-defined]
        page.fill("input[name=password]", demo_password)  # type: ignore[attr-defined]
        page.click("button[type=submit]")  # type: ignore[attr-defined]
        page.wait_for_selector("nav.mainnav")  # type: ignore[attr-defined]
        return page

    return _login


# --- A second MLflow server run with `--app-name basic-auth` (issue 16) ------------------------
class BasicAuthMlflow:
    """A real `mlflow server --app-name basic-auth` (own SQLite store and auth database, started by
    tests/accounts/basic_auth_server.py). Its admin manages users and permissions over MLflow's REST API."""

    def __init__(self, url: str, store: Path, admin: tuple[str, str]) -> None:
        self.url, self.store, self.ADMIN = url, store, admin

    def admin(self, method: str, path: str, payload: dict[str, object]) -> dict[str, object]:
        import requests

        response = requests.request(method, self.url + path, json=payload, auth=self.ADMIN, timeout=10)
        assert response.status_code == 200, response.text
        return response.json() if response.text.strip() else {}

    def create_user(self, username: str, password: str) -> None:
        self.admin("POST", "/api/2.0/mlflow/users/create", {"username": username, "password": password})

    def set_password(self, username: str, password: str) -> None:
        self.admin("PATCH", "/api/2.0/mlflow/users/update-password", {"username": username, "password": password})

    def grant_model(self, name: str, username: str, permission: str) -> None:
        payload = {"username": username, "resource_type": "registered_model", "resource_id": name}
        self.admin("POST", "/api/3.0/mlflow/users/permissions/grant", {**payload, "permission": permission})


@pytest.fixture(scope="session")
def basic_auth_mlflow() -> Iterator[BasicAuthMlflow]:
    """Started on a free port on first use, stopped at the end of the session (needs Flask-WTF)."""
    from tests.accounts.basic_auth_server import SERVICE_PASSWORD, SERVICE_USER, basic_auth_server

    workdir = Path(tempfile.mkdtemp(prefix="mlopsadmin-mlflow-auth-"))
    with basic_auth_server(workdir) as url:
        yield BasicAuthMlflow(url, workdir / "mlflow.db", (SERVICE_USER, SERVICE_PASSWORD))
