"""The permission matrix: every URL of the installation and every API operation × every persona.

The expected statuses live in one readable file, `tests/permission_matrix.txt`. A view or operation
without a row there fails the test, and so does any status that differs from its row. After adding a
view, run `PERMISSION_MATRIX_WRITE=1 pytest tests/test_permission_matrix.py` to print the observed rows,
review them line by line, and paste the correct ones into the file.

Requests carry no form data: a persona the policy admits gets past the permission check and is then
refused for the missing input (400/404/409/422) or served (200/302); a persona it refuses gets 403 (pages)
or 401/403 (API). Targets belong to team `search` (model search-ranker, experiment 1), so "lead" is the
owning team's ML lead and "lead_other" (lead_fraud) is not. The matrix runs against its own MLflow
server so that no request of it can disturb the shared one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.test import Client

from mlopsadmin.core.models import ApiToken, hash_token

from .audit import urlwalk
from .conftest import seeded_mlflow_server

MATRIX_FILE = Path(__file__).with_name("permission_matrix.txt")
# column → persona username (None: anonymous)
PERSONAS = {
    "anon": None,
    "outsider": "outsider",
    "member": "member_search",
    "lead": "lead_search",
    "lead_other": "lead_fraud",
    "operator": "operator",
    "auditor": "auditor",
    "admin": "admin",
}
PAGE_METHODS = ("GET", "POST")
API_METHODS = ("get", "post", "put", "patch", "delete")
# Django's own admin and static serving have their own permission systems; the admin index is kept.
SKIPPED_PATH_PREFIXES = ("/static/", "/admin/")  # the admin index "/admin/" itself is kept


@pytest.fixture(scope="module")
def matrix_mlflow(django_db_blocker: object) -> Iterator[str]:
    with seeded_mlflow_server() as (url, _, _):
        yield url


def load_expected() -> dict[str, list[str]]:
    expected: dict[str, list[str]] = {}
    for line in MATRIX_FILE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        expected[" ".join(words[: -len(PERSONAS)])] = words[-len(PERSONAS) :]
    return expected


def page_rows(users: dict[str, object | None]) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    targets, _ = urlwalk.url_targets()
    for target in targets:
        if target.path.startswith(SKIPPED_PATH_PREFIXES) and target.path != "/admin/":
            continue
        if target.path.startswith("/api/"):
            continue
        for method in PAGE_METHODS:
            statuses = []
            for user in users.values():
                client = Client()  # a fresh session per request: a logout row cannot end the next one's
                if user is not None:
                    client.force_login(user)
                statuses.append(str(getattr(client, method.lower())(target.path).status_code))
            rows[f"{method} {target.name} {target.path}"] = statuses
    return rows


def api_rows(headers: dict[str, dict[str, str]], document: dict) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    client = Client()
    for template, item in sorted(document["paths"].items()):
        for method in API_METHODS:
            if method not in item:
                continue
            operation = item[method]
            path, query = template, {}
            for param in operation.get("parameters", []):
                value = str(urlwalk.example_for(param.get("schema", {}), document, param["name"]))
                if param.get("in") == "path":
                    path = path.replace("{" + param["name"] + "}", value)
                elif param.get("in") == "query" and param.get("required"):
                    query[param["name"]] = value
            if query:
                path = f"{path}?{urlencode(query)}"
            key = f"API {method.upper()} {template}"
            rows[key] = [
                str(
                    client.generic(
                        method.upper(), path, data=json.dumps({}), content_type="application/json", **persona_headers
                    ).status_code
                )
                for persona_headers in headers.values()
            ]
    return rows


def token_headers(user: object | None) -> dict[str, str]:
    if user is None:
        return {}
    raw = ApiToken.new_raw_token()
    ApiToken.objects.create(user=user, name="matrix", token_hash=hash_token(raw), hint=raw[:12])
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def unconsumed_queue() -> Iterator[None]:
    """Tasks the requests queue must stay queued (no test worker may run them), or the statuses of later
    rows would depend on which workers happen to be alive in this test session."""
    from mlopsadmin.celery import app

    previous = app.conf["task_default_queue"]
    app.conf["task_default_queue"] = "permission-matrix-nobody-listens"
    yield
    app.conf["task_default_queue"] = previous


@pytest.mark.django_db(transaction=True, reset_sequences=True)  # sample ids ("1") name the same rows everywhere
def test_permission_matrix(personas: dict, matrix_mlflow: str, settings: object, unconsumed_queue: None) -> None:
    settings.MLFLOW_TRACKING_URI = settings.MLFLOW_UI_URL = matrix_mlflow  # type: ignore[attr-defined]
    users = {column: personas[username] if username else None for column, username in PERSONAS.items()}
    observed = page_rows(users)
    headers = {column: token_headers(user) for column, user in users.items()}
    document = Client().get("/api/v1/openapi.json", **headers["admin"]).json()
    observed.update(api_rows(headers, document))

    if os.environ.get("PERMISSION_MATRIX_WRITE"):
        width = max(len(k) for k in observed)
        print(
            "\n"
            + "\n".join(
                f"{key:<{width}}  " + "  ".join(f"{s:>3}" for s in statuses)
                for key, statuses in sorted(observed.items())
            )
        )
    expected = load_expected()
    missing = sorted(set(observed) - set(expected))
    assert not missing, "views/operations without a row in permission_matrix.txt:\n" + "\n".join(missing)
    wrong = [
        f"{key}: expected {' '.join(expected[key])}, got {' '.join(statuses)}"
        for key, statuses in sorted(observed.items())
        if expected[key] != statuses
    ]
    assert not wrong, "statuses differ from permission_matrix.txt " + str(list(PERSONAS)) + ":\n" + "\n".join(wrong)
    stale = sorted(set(expected) - set(observed))
    assert not stale, "rows in permission_matrix.txt for views that no longer exist:\n" + "\n".join(stale)
    assert not any("500" in statuses for statuses in observed.values())
