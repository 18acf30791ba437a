"""Issue 22: each environment's credentials travel with its own HTTP sessions only. A copy dev → prod must
not change what another request sends to the default server at the same time (the default server here is
a real `mlflow server --app-name basic-auth`: a request without its service account is refused), nor the
process environment."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest

from mlopsadmin.lib.mlflow_connection import client
from registry_ui.environments import services
from tests.faults import FaultProxy

from .helpers import configure, make_version, versions_on

pytestmark = pytest.mark.django_db(transaction=True)  # the copy runs in a thread of its own
WATCHED = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


def test_copy_leaves_default_server_credentials_and_environment_alone(  # type: ignore[no-untyped-def]
    dev_mlflow, mlflow, basic_auth_mlflow, personas, settings, monkeypatch
) -> None:
    name = f"search-creds-{uuid.uuid4().hex[:8]}"
    version = make_version(dev_mlflow.url, name, score=0.5)
    monkeypatch.setenv("MLA_DEV_USER", "svc-dev")
    monkeypatch.setenv("MLA_DEV_PASSWORD", "s3cret-dev")
    # the default server needs its service account; the copy goes dev → prod through a slow proxy (writes
    # take 0.3 s each), so default-server requests run while the copy is under way
    settings.MLFLOW_TRACKING_URI = basic_auth_mlflow.url
    settings.MLFLOW_TRACKING_USERNAME, settings.MLFLOW_TRACKING_PASSWORD = basic_auth_mlflow.ADMIN
    client().search_registered_models(max_results=1)
    before = {key: os.environ.get(key) for key in WATCHED}
    with FaultProxy(mlflow) as prod:
        prod.write_delay = 0.3
        configure(
            {
                "dev": {
                    "kind": "server",
                    "tracking_uri": dev_mlflow.url,
                    "username_env": "MLA_DEV_USER",
                    "password_env": "MLA_DEV_PASSWORD",
                    "next": "prod",
                },
                "prod": {"kind": "server", "tracking_uri": prod.url},
            }
        )
        outcome: dict[str, object] = {}

        def copy() -> None:
            try:
                outcome["result"] = services.promote_to_next(
                    actor=personas["admin"], source_env="dev", model=name, version=version
                )
            except Exception as exc:  # reported by the assertion below
                outcome["error"] = exc

        worker = threading.Thread(target=copy)
        worker.start()
        refused: list[str] = []
        seen: set[tuple[str | None, ...]] = set()
        calls = 0
        deadline = time.monotonic() + 120
        while worker.is_alive() and time.monotonic() < deadline:
            seen.add(tuple(os.environ.get(key) for key in WATCHED))
            try:
                client().search_registered_models(max_results=1)
            except Exception as exc:  # what a page reading the default registry would show
                refused.append(str(exc)[:120])
            calls += 1
        worker.join(timeout=30)

    assert "error" not in outcome, outcome
    assert calls >= 3, "the copy finished before the default server was asked anything"
    assert refused == [], f"{len(refused)} of {calls} default-server calls refused during the copy: {refused[:2]}"
    assert seen == {tuple(before.values())}, "the process environment changed during the copy"
    assert {key: os.environ.get(key) for key in WATCHED} == before
    assert [v["version"] for v in versions_on(mlflow, name)] == ["1"]


def test_a_refused_environment_password_names_that_environment_and_its_variables(  # type: ignore[no-untyped-def]
    dev_mlflow, basic_auth_mlflow, login, settings, monkeypatch
) -> None:
    """prod's password was rotated in MLflow: the answer names prod's service account and the variables it
    is read from (username_env / password_env), not the default server's MLFLOW_TRACKING_USERNAME."""
    name = f"search-rotated-{uuid.uuid4().hex[:8]}"
    version = make_version(dev_mlflow.url, name, score=0.5)
    settings.MLFLOW_TRACKING_USERNAME, settings.MLFLOW_TRACKING_PASSWORD = "svc-default", "default-pw"
    monkeypatch.setenv("MLA_PROD_USER", basic_auth_mlflow.ADMIN[0])
    monkeypatch.setenv("MLA_PROD_PASSWORD", "rotated-meanwhile")
    configure(
        {
            "dev": {"kind": "server", "tracking_uri": dev_mlflow.url, "next": "prod"},
            "prod": {
                "kind": "server",
                "tracking_uri": basic_auth_mlflow.url,
                "username_env": "MLA_PROD_USER",
                "password_env": "MLA_PROD_PASSWORD",
            },
        }
    )
    answer = login("admin").post(
        f"/api/v1/environments/dev/models/{name}/promote", data={"version": version}, content_type="application/json"
    )
    assert answer.status_code == 502, answer.content
    detail = answer.json()["detail"]
    assert "prod" in detail and "MLA_PROD_USER / MLA_PROD_PASSWORD" in detail, detail
    assert repr(basic_auth_mlflow.ADMIN[0]) in detail, detail
    assert "MLFLOW_TRACKING_USERNAME" not in detail and "svc-default" not in detail, detail
