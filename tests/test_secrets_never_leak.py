"""Issue #9: no secret (DB password, MLflow password, S3 keys, API tokens, SECRET_KEY) ever in a page, an
API answer, a log line or an audit event.

Distinctive secret values are configured, the app is exercised for real (every page and every API read
as admin, the API token's own calls, cleanup plan → execute → purge, the reaper and the capacity check
run in-process so their log lines are captured, an MLflow outage whose tracking URI carries
credentials, an S3 endpoint that stops answering), and then every response (headers and body), every
log record of every logger at DEBUG (message, args, exception text) and every row the actions wrote
(audit events, task records, capacity samples) is searched for each secret."""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from maintenance.models import CapacitySample, CleanupPlan, TaskRun, TaskState
from maintenance.reaper import reaper_start
from maintenance.tasks import task_run_execute
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib import s3
from mlopsadmin.lib.mlflow_server import free_port
from mlopsadmin.lib.uris import split_uri_credentials

from .audit import urlwalk
from .maintenance.conftest import make_run
from .s3server import MotoProcess

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.timeout(900)]

# Loggers named by issue #9 plus every library that talks to a secret-bearing system.
LOGGERS = (
    "",
    "django",
    "django.request",
    "django.server",
    "celery",
    "kombu",
    "mlflow",
    "urllib3",
    "requests",
    "botocore",
    "boto3",
    "s3transfer",
    "sqlalchemy",
    "alembic",
    "psycopg2",
    "mlopsadmin",
    "maintenance",
    "catalog",
    "registry_ui",
)


@dataclass
class Secrets:
    db_password: str = field(default_factory=lambda: "dbpw-" + secrets.token_hex(12))
    mlflow_password: str = field(default_factory=lambda: "mlpw-" + secrets.token_hex(12))
    s3_access_key: str = field(default_factory=lambda: "AKIA" + secrets.token_hex(8).upper())
    s3_secret_key: str = field(default_factory=lambda: "s3sk-" + secrets.token_hex(16))
    secret_key: str = field(default_factory=lambda: "sk-" + secrets.token_urlsafe(48))
    api_token: str = ""  # created through the app during the test

    def values(self) -> dict[str, str]:
        return {name: value for name, value in vars(self).items() if value}


@dataclass
class Seen:
    """Everything the app showed, logged or stored, by where it came from."""

    texts: list[tuple[str, str]] = field(default_factory=list)

    def response(self, label: str, response: Any) -> str:
        raw = b"".join(response.streaming_content) if response.streaming else response.content
        body = raw.decode(errors="replace")
        headers = "\n".join(f"{k}: {v}" for k, v in response.items())
        self.texts.append((f"{label} [{response.status_code}]", f"{headers}\n{body}"))
        return body

    def leaks(self, values: dict[str, str]) -> list[str]:
        return [f"{name} in {where}" for where, text in self.texts for name, value in values.items() if value in text]


def record_texts(record: logging.LogRecord) -> str:
    try:
        message = record.getMessage()
    except Exception:  # a record whose args do not fit its format: still search both
        message = str(record.msg)
    parts = [message, str(record.msg), repr(record.args), record.exc_text or "", record.stack_info or ""]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record of every logger at DEBUG, including loggers that do not propagate (MLflow's)."""
    attached = []
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    for name in {*LOGGERS, *logging.root.manager.loggerDict}:
        logger = logging.getLogger(name)
        if name and not logger.propagate and caplog.handler not in logger.handlers:
            logger.addHandler(caplog.handler)
            attached.append(logger)
    yield caplog
    for logger in attached:
        logger.removeHandler(caplog.handler)


@pytest.fixture
def moto_s3(settings: Any, planted: Secrets) -> Iterator[MotoProcess]:
    server = MotoProcess()
    server.start()
    settings.S3_ENDPOINT_URL, settings.S3_REGION = server.url, "us-east-1"
    settings.S3_ACCESS_KEY_ID, settings.S3_SECRET_ACCESS_KEY = planted.s3_access_key, planted.s3_secret_key
    yield server
    server.kill()


@pytest.fixture
def planted(settings: Any, monkeypatch: pytest.MonkeyPatch, mlflow: str) -> Secrets:
    """The secrets, configured the way an operator would: env-backed settings and URIs with credentials.
    MLFLOW_TRACKING_URI=http://user:password@host goes through the settings module's own parsing (the live
    server ignores basic auth, so calls still work)."""
    values = Secrets()
    settings.SECRET_KEY = values.secret_key
    settings.DATABASE_URL = f"postgres://mlopsadmin:{values.db_password}@db.internal:5432/mlopsadmin"
    # client() exports the credentials for MLflow's REST layer; the env is restored after the test
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "")
    uri, username, password = split_uri_credentials(mlflow.replace("http://", f"http://svc:{values.mlflow_password}@"))
    settings.MLFLOW_TRACKING_URI, settings.MLFLOW_UI_URL = uri, uri
    settings.MLFLOW_TRACKING_USERNAME, settings.MLFLOW_TRACKING_PASSWORD = username, password
    assert password == values.mlflow_password and uri == mlflow
    # the tracking database, unreachable: the capacity probe and the purge fail and report why
    settings.MLFLOW_BACKEND_STORE_URI = (
        f"postgresql+psycopg2://mlflow:{values.db_password}@127.0.0.1:{free_port()}/mlflow"
    )
    return values


def run_in_process(task_run_id: int) -> TaskRun:
    """What the worker does, in this process so its log lines are captured."""
    task_run_execute(task_run_id=task_run_id, celery_task_id=f"leak-test-{task_run_id}")
    return TaskRun.objects.get(pk=task_run_id)


def walk_pages(client: Client, seen: Seen, label: str) -> None:
    targets, _ = urlwalk.url_targets()
    for target in targets:
        if target.path.startswith("/static/") or target.name == "logout":
            continue
        seen.response(f"{label} GET {target.path}", client.get(target.path))


def walk_api_reads(client: Client, headers: dict[str, str], seen: Seen, label: str) -> None:
    document = client.get("/api/v1/openapi.json", **headers).json()
    for template, item in document["paths"].items():
        if "get" not in item:
            continue
        path = template
        for param in item["get"].get("parameters", []):
            if param.get("in") == "path":
                value = str(urlwalk.example_for(param.get("schema", {}), document, param["name"]))
                path = path.replace("{" + param["name"] + "}", value)
        seen.response(f"{label} API GET {path}", client.get(path, **headers))


def row_text(obj: Any) -> str:
    return json.dumps({f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}, default=str)


def stored_rows(first_event_id: int, first_task_id: int) -> list[tuple[str, str]]:
    """Every column of the audit events, task records and capacity samples the test's actions wrote."""
    rows = [(f"audit event #{e.pk} {e.action}", row_text(e)) for e in AuditEvent.objects.filter(id__gt=first_event_id)]
    rows += [(f"task run #{r.pk}", row_text(r)) for r in TaskRun.objects.filter(id__gt=first_task_id)]
    rows += [
        (f"capacity sample #{s.pk}", row_text(s)) for s in CapacitySample.objects.filter(task_run_id__gt=first_task_id)
    ]
    return rows


def test_no_secret_in_pages_api_logs_tasks_or_audit(  # type: ignore[no-untyped-def]
    planted, moto_s3, all_logs, personas, settings, unique_name
) -> None:
    seen = Seen()
    first_event = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    first_task = TaskRun.objects.order_by("-id").values_list("id", flat=True).first() or 0
    admin = Client()
    admin.force_login(personas["admin"])

    # An API token, created through the page: its one-time display is the only place it may appear.
    created = admin.post("/account/tokens/", {"name": "leak-test"})
    planted.api_token = created.context["new_token"]
    assert planted.api_token and planted.api_token in created.content.decode()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {planted.api_token}"}
    api = Client()

    # MLflow data: old failed runs to clean up (and purge), an experiment whose artifacts are in S3.
    experiment_id = mlf.create_experiment(f"/leak-tests/{unique_name}/cleanup")
    doomed = {make_run(experiment_id, name=f"doomed-{i}") for i in range(3)}
    s3.create_bucket(f"leak-{unique_name}")
    s3.put_object(f"leak-{unique_name}", "mlruns/1/run/artifacts/model.bin", b"m" * 1234)
    mlf.create_experiment(f"/leak-tests/{unique_name}/s3", artifact_location=f"s3://leak-{unique_name}/mlruns/1")

    # Actions through the API with the token; the tasks run here instead of in a worker.
    plan = api.post(
        "/api/v1/maintenance/cleanup-plans",
        {"scope": "experiment", "scope_value": experiment_id},
        content_type="application/json",
        **bearer,
    )
    seen.response("API plan create", plan)
    plan_id = plan.json()["id"]
    assert run_in_process(CleanupPlan.objects.get(pk=plan_id).plan_task_id).state == TaskState.SUCCEEDED
    execute = api.post(
        f"/api/v1/maintenance/cleanup-plans/{plan_id}/execute",
        {"confirm": True, "purge": True},
        content_type="application/json",
        **bearer,
    )
    seen.response("API plan execute", execute)
    executed = run_in_process(execute.json()["id"])
    assert all(mlf.get_run(run_id).lifecycle_stage == "deleted" for run_id in doomed)
    assert executed.errors and "purge failed" in " ".join(executed.errors)  # the store is unreachable
    capacity = api.post("/api/v1/maintenance/capacity-checks", {}, content_type="application/json", **bearer)
    seen.response("API capacity", capacity)
    measured = run_in_process(capacity.json()["id"])
    assert measured.state == TaskState.SUCCEEDED, measured.errors
    assert any(e.startswith("database:") for e in measured.errors)  # the tracking DB probe failed, said why
    store = CapacitySample.objects.get(task_run=measured, scope="store", key=f"s3://leak-{unique_name}")
    assert store.size_bytes == 1234

    # The S3 endpoint stops answering: the next capacity check reports it.
    moto_s3.kill()
    capacity = api.post("/api/v1/maintenance/capacity-checks", {}, content_type="application/json", **bearer)
    unreachable = run_in_process(capacity.json()["id"])
    assert any(f"s3://leak-{unique_name}" in e for e in unreachable.errors), unreachable.errors

    walk_pages(admin, seen, "admin")
    walk_api_reads(api, bearer, seen, "token")
    for run in TaskRun.objects.filter(id__gt=first_task):
        seen.response(f"task page #{run.pk}", admin.get(f"/maintenance/tasks/{run.pk}/"))
        seen.response(f"task progress #{run.pk}", admin.get(f"/maintenance/tasks/{run.pk}/progress"))
    seen.response("plan page", admin.get(f"/maintenance/plans/{plan_id}/"))
    for event_id in AuditEvent.objects.filter(id__gt=first_event).values_list("id", flat=True):
        seen.response(f"audit event page #{event_id}", admin.get(f"/audit/events/{event_id}/"))
    seen.response("audit export csv", admin.get("/audit/export.csv"))
    seen.response("audit export jsonl", admin.get("/audit/export.jsonl"))
    seen.response("healthz", Client().get("/healthz"))

    # MLflow stops answering (its URI configured with credentials): error pages, API answers, tasks.
    settings.MLFLOW_TRACKING_URI = split_uri_credentials(
        f"http://svc:{planted.mlflow_password}@127.0.0.1:{free_port()}"
    )[0]
    down = admin.get("/registry/models/search-ranker/aliases/")  # reads MLflow live (the registry index does not)
    assert down.status_code == 503
    assert "127.0.0.1" in seen.response("outage aliases page", down)  # the page says which server
    walk_pages(admin, seen, "outage")
    walk_api_reads(api, bearer, seen, "outage token")
    seen.response("outage healthz", Client().get("/healthz"))
    reaper = api.post("/api/v1/maintenance/reaper", {"dry_run": True}, content_type="application/json", **bearer)
    seen.response("outage API reaper", reaper)
    reaped = run_in_process(reaper.json()["id"])
    assert reaped.state == TaskState.FAILED and reaped.errors
    seen.response("outage reaper page", admin.get(f"/maintenance/tasks/{reaped.pk}/"))

    values = planted.values()
    seen.texts += [(f"log {r.name} {r.levelname}", record_texts(r)) for r in all_logs.records]
    seen.texts += stored_rows(first_event, first_task)
    assert len(all_logs.records) > 100  # the capture really saw the app, MLflow, urllib3 and botocore at DEBUG
    leaks = seen.leaks(values)
    assert not leaks, "secrets leaked:\n" + "\n".join(sorted(set(leaks))[:60])


@pytest.fixture
def unique_name() -> str:
    return secrets.token_hex(4)


def test_settings_take_credentials_out_of_the_tracking_uri() -> None:
    """MLFLOW_TRACKING_URI=https://user:password@host: the URI the app keeps (and shows) has no credentials;
    they become MLFLOW_TRACKING_USERNAME/PASSWORD unless those are set explicitly."""
    code = (
        "from django.conf import settings as s; import json; print(json.dumps([s.MLFLOW_TRACKING_URI, "
        "s.MLFLOW_UI_URL, s.MLFLOW_TRACKING_USERNAME, s.MLFLOW_TRACKING_PASSWORD]))"
    )
    env = {name: value for name, value in os.environ.items() if name != "MLFLOW_UI_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="mlopsadmin.settings",
        MLFLOW_TRACKING_USERNAME="",
        MLFLOW_TRACKING_PASSWORD="",
        MLFLOW_TRACKING_URI="https://svc:p%40ss-w0rd@mlflow.internal:8443/prefix",
    )
    shown = json.loads(
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    )
    assert shown == ["https://mlflow.internal:8443/prefix", "https://mlflow.internal:8443/prefix", "svc", "p@ss-w0rd"]
    env.update(MLFLOW_TRACKING_USERNAME="explicit", MLFLOW_TRACKING_PASSWORD="explicit-password")
    shown = json.loads(
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    )
    assert shown[0] == "https://mlflow.internal:8443/prefix" and shown[2:] == ["explicit", "explicit-password"]


def test_credentials_put_into_the_uri_at_run_time_are_still_not_shown_or_logged(  # type: ignore[no-untyped-def]
    login, settings, all_logs
) -> None:
    """Defence in depth: a tracking URI with credentials that did not go through the settings module (set at
    run time) still never reaches an error page, an API answer or a log line."""
    password = "rtpw-" + secrets.token_hex(12)
    settings.MLFLOW_TRACKING_URI = f"http://svc:{password}@127.0.0.1:{free_port()}"
    client = login("admin")
    seen = Seen()
    page = client.get("/registry/")
    assert page.status_code == 503 and "not answering" in seen.response("page", page)
    answer = client.get("/api/v1/registry/models")
    assert answer.status_code == 503 and "unreachable" in seen.response("api", answer)
    # A task that fails on that server stores the error text MLflow gives (which quotes the URI).
    task = run_in_process(reaper_start(actor=None, dry_run=True).pk)
    assert task.state == TaskState.FAILED and task.errors
    seen.texts.append(("task errors", " ".join(task.errors)))
    seen.texts += [(f"log {r.name} {r.levelname}", record_texts(r)) for r in all_logs.records]
    assert any("svc:" not in text and "127.0.0.1" in text for _, text in seen.texts)
    assert not seen.leaks({"password": password})
