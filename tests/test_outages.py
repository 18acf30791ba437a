"""Outages with real processes: the MLflow server stopped or hanging, Redis stopped, the database
locked. Each page and action answers with a clear message and changes nothing (or records exactly what
it changed); nothing answers 500 or shows a stack trace."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import Client

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf

from .audit import urlwalk
from .conftest import seeded_mlflow_server
from .faults import private_redis

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.timeout(900)]


def get_pages() -> list[urlwalk.Target]:
    targets, _ = urlwalk.url_targets()
    return [t for t in targets if not t.path.startswith(("/static/", "/admin/", "/api/")) and t.name != "logout"]


def assert_clear_answers(client: Client, targets: list[urlwalk.Target]) -> dict[str, int]:
    statuses = {}
    for target in targets:
        response = client.get(target.path)
        statuses[target.path] = response.status_code
        raw = b"".join(getattr(response, "streaming_content", [])) if response.streaming else response.content
        body = raw.decode(errors="replace")
        assert response.status_code != 500, f"{target.path} answered 500"
        assert "Traceback" not in body, target.path
        if response.status_code == 503:
            assert "MLflow" in body or "database" in body, f"{target.path}: 503 without saying what is down"
    return statuses


@contextlib.contextmanager
def hanging_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: a hung tracking server."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_forever() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        listener.close()


def test_mlflow_stopped_every_page_answers_clearly(login, settings) -> None:  # type: ignore[no-untyped-def]
    client = login("admin")
    with seeded_mlflow_server(seed=False) as (url, _, process):
        settings.MLFLOW_TRACKING_URI = settings.MLFLOW_UI_URL = url
        process.terminate()
        process.wait(30)
        statuses = assert_clear_answers(client, get_pages())
        assert statuses["/registry/"] == 503
        response = client.get("/registry/")
        assert url.encode() in response.content and b"not answering" in response.content
        api = client.get("/api/v1/registry/models")
        assert api.status_code == 503 and "unreachable" in api.json()["detail"]
        health = Client().get("/healthz")
        assert health.status_code == 503 and health.json()["checks"]["mlflow"]["ok"] is False
    assert statuses["/catalog/"] == 200  # the catalog reads its local index: still useful during the outage


def test_mlflow_hanging_times_out_with_a_clear_page(login, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client = login("admin")
    settings.MLFLOW_REQUEST_TIMEOUT = 2
    # restored to the value before the test (not to the overridden setting: 2 s for the rest of the session)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    with hanging_server() as url:
        settings.MLFLOW_TRACKING_URI = settings.MLFLOW_UI_URL = url
        start = time.monotonic()
        response = client.get("/registry/")
        elapsed = time.monotonic() - start
    assert response.status_code == 503
    assert b"not answering" in response.content
    assert elapsed < 30  # bounded by the gateway's timeout and retry settings, not hanging for minutes


def test_mlflow_stopped_promotion_changes_nothing(login, settings, personas) -> None:  # type: ignore[no-untyped-def]
    client = login("lead_search")
    with seeded_mlflow_server() as (url, _, process):
        settings.MLFLOW_TRACKING_URI = settings.MLFLOW_UI_URL = url
        assert mlf.get_registered_model("search-ranker").aliases["champion"] == "2"
        last_event = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        process.terminate()
        process.wait(30)
        response = client.post(
            "/api/v1/models/search-ranker/promote", data={"version": "3"}, content_type="application/json"
        )
        assert response.status_code == 503, response.content
        assert "unreachable" in response.json()["detail"]
        # nothing was changed, so nothing may be recorded as done (a "failed" record is allowed)
        assert not AuditEvent.objects.filter(id__gt=last_event, outcome__in=["ok", "partial"]).exists()


@pytest.fixture
def own_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with private_redis() as started:
        yield started


@pytest.mark.redis
def test_redis_stopped_promotion_refused_clearly(login, settings, own_redis) -> None:  # type: ignore[no-untyped-def]
    redis_url, redis_process = own_redis
    settings.REDIS_URL = redis_url
    client = login("lead_search")
    with seeded_mlflow_server() as (url, _, _):
        settings.MLFLOW_TRACKING_URI = settings.MLFLOW_UI_URL = url
        redis_process.kill()
        redis_process.wait(10)
        response = client.post(
            "/api/v1/models/search-ranker/promote", data={"version": "3"}, content_type="application/json"
        )
        assert response.status_code in (409, 503), response.content
        assert "redis" in response.json()["detail"].lower() or "lock" in response.json()["detail"].lower()
        assert mlf.get_registered_model("search-ranker").aliases["champion"] == "2"


@pytest.mark.django_db(transaction=True)
def test_database_locked_answers_503_and_changes_nothing(login, personas) -> None:  # type: ignore[no-untyped-def]
    """Another session holds the audit table locked; a write that needs it waits, gives up, rolls back."""
    client = login("lead_search")
    tokens_before = personas["lead_search"].api_tokens.count()
    if connection.vendor == "postgresql":
        import psycopg2

        params = connection.get_connection_params()
        blocker = psycopg2.connect(**params)
        blocker.autocommit = False
        blocker.cursor().execute("LOCK TABLE core_auditevent IN ACCESS EXCLUSIVE MODE")
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")
        try:
            response = client.post("/account/tokens/", {"name": "during-lock"})
        finally:
            blocker.rollback()
            blocker.close()
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = 0")
    else:
        pytest.skip("SQLite's lock is per file and shared with the test transaction; covered on PostgreSQL in CI")
    assert response.status_code == 503
    assert b"database is not available" in response.content
    assert personas["lead_search"].api_tokens.count() == tokens_before


def test_outage_server_leaves_the_settings_as_they_were() -> None:
    """A test that overrides settings inside `seeded_mlflow_server` (as the outage tests do) must not leave
    the stopped server's URI and store in the settings of the tests that follow (a worker started later
    used that store for `mlflow gc` and found none of the runs)."""
    from django.conf import settings
    from django.test import override_settings

    names = ("MLFLOW_TRACKING_URI", "MLFLOW_UI_URL", "MLFLOW_BACKEND_STORE_URI")
    before = [getattr(settings, name) for name in names]
    with seeded_mlflow_server(seed=False) as (url, _, _):
        override = override_settings(MLFLOW_TRACKING_URI=url)  # what `settings.X = url` in a test body does
        override.enable()
    override.disable()  # the `settings` fixture's teardown
    assert [getattr(settings, name) for name in names] == before
