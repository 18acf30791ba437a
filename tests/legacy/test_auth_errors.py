"""Case 2 of issue 16: against a real `mlflow server --app-name basic-auth` (started by the tests), a
refused login (401) or a missing permission (403) is a domain error that says so and is not retried,
/healthz and the checklist's authentication probe fail, and MLflow's own 5xx is not "unreachable"."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from django.test import Client

from checklists import probes
from mlopsadmin.core.services import api_token_create
from mlopsadmin.lib import mlflow_client as mlf

pytestmark = pytest.mark.django_db

SERVICE = ("registry-svc", "service-password-1234")  # not an MLflow admin


@pytest.fixture(scope="module")
def auth_model(basic_auth_mlflow, django_db_blocker) -> str:  # type: ignore[no-untyped-def]
    """A model the admin owns (one version); the service account gets MLflow's default READ on it."""
    from django.conf import settings

    server = basic_auth_mlflow
    server.create_user(*SERVICE)
    name = f"search-auth-{uuid.uuid4().hex[:8]}"
    saved = (settings.MLFLOW_TRACKING_URI, settings.MLFLOW_TRACKING_USERNAME, settings.MLFLOW_TRACKING_PASSWORD)
    settings.MLFLOW_TRACKING_URI, settings.MLFLOW_TRACKING_USERNAME, settings.MLFLOW_TRACKING_PASSWORD = (
        server.url,
        *server.ADMIN,
    )
    try:
        run_id = mlf.create_run("0")
        mlf.create_registered_model(name)
        mlf.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id)
    finally:
        settings.MLFLOW_TRACKING_URI, settings.MLFLOW_TRACKING_USERNAME, settings.MLFLOW_TRACKING_PASSWORD = saved
    return name


@pytest.fixture
def as_service(basic_auth_mlflow, settings):  # type: ignore[no-untyped-def]
    """Point the gateway at the basic-auth server as the service account; password=… to log in wrongly."""

    def _use(password: str = SERVICE[1]) -> None:
        settings.MLFLOW_TRACKING_URI = settings.MLFLOW_UI_URL = basic_auth_mlflow.url
        settings.MLFLOW_TRACKING_USERNAME, settings.MLFLOW_TRACKING_PASSWORD = SERVICE[0], password

    return _use


def _api(personas, username: str) -> Client:  # type: ignore[no-untyped-def]
    _, raw = api_token_create(actor=personas[username], user=personas[username], name="ci")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_missing_edit_permission_is_named_not_an_outage(auth_model, as_service, personas, basic_auth_mlflow) -> None:
    as_service()
    assert mlf.get_registered_model(auth_model).name == auth_model  # READ works
    with pytest.raises(mlf.MlflowPermissionDenied) as refused:
        mlf.set_model_alias(auth_model, "challenger", "1")
    assert not isinstance(refused.value, mlf.MlflowUnavailable) and not refused.value.retryable
    assert f"lacks EDIT on model {auth_model}" in str(refused.value)

    answer = _api(personas, "admin").post(
        f"/api/v1/models/{auth_model}/challenger", {"version": "1"}, content_type="application/json"
    )
    assert answer.status_code == 502, answer.content
    assert f"'{SERVICE[0]}' lacks EDIT on model {auth_model}" in answer.json()["detail"]
    assert "unreachable" not in answer.json()["detail"]

    basic_auth_mlflow.grant_model(auth_model, SERVICE[0], "EDIT")  # granted: the same call now works
    mlf.set_model_alias(auth_model, "challenger", "1")
    assert mlf.get_registered_model(auth_model).aliases == {"challenger": "1"}


def test_rotated_password_fails_health_probe_and_tasks_without_retry(
    auth_model, as_service, personas, basic_auth_mlflow, client
) -> None:
    from registry_ui.tasks import alias_reconcile_scheduled

    as_service()
    assert "refused mlopsadmin's credentials" not in probes.authentication().evidence  # its password works
    basic_auth_mlflow.create_user("rotated-svc", "old-password-1234")
    basic_auth_mlflow.set_password("rotated-svc", "new-password-5678")
    as_service()
    from django.conf import settings

    settings.MLFLOW_TRACKING_USERNAME, settings.MLFLOW_TRACKING_PASSWORD = "rotated-svc", "old-password-1234"

    with pytest.raises(mlf.MlflowAuthFailed) as refused:
        list(mlf.iter_registered_models())
    assert "MLflow refused mlopsadmin's credentials" in str(refused.value)
    assert not refused.value.retryable and not isinstance(refused.value, mlf.MlflowUnavailable)

    client.force_login(personas["admin"])
    health = client.get("/healthz")
    assert health.status_code == 503
    assert "refused mlopsadmin's credentials" in health.json()["checks"]["mlflow"]["detail"]

    probe = probes.authentication()
    assert probe.status == probes.FAIL and "refused mlopsadmin's credentials" in probe.evidence

    result = alias_reconcile_scheduled.apply()
    assert result.state == "FAILURE" and isinstance(result.result, mlf.MlflowAuthFailed)

    page = client.get(f"/registry/models/{auth_model}/")
    assert page.status_code == 502
    assert b"refused mlopsadmin&#x27;s credentials" in page.content and b"Try again when it answers" not in page.content


def test_mlflow_own_5xx_is_a_server_error_not_unreachable(auth_model, as_service, basic_auth_mlflow, personas) -> None:
    as_service()
    store = sqlite3.connect(basic_auth_mlflow.store)
    store.execute("ALTER TABLE model_versions RENAME TO model_versions_away")
    store.commit()
    try:
        with pytest.raises(mlf.MlflowServerError) as failed:
            list(mlf.iter_model_versions(name=auth_model))
        assert "answered HTTP 50" in str(failed.value) and "unreachable" not in str(failed.value)
        answer = _api(personas, "admin").get(f"/api/v1/registry/models/{auth_model}/versions")
        assert answer.status_code == 502 and "answered HTTP 50" in answer.json()["detail"]
    finally:
        store.execute("ALTER TABLE model_versions_away RENAME TO model_versions")
        store.commit()
        store.close()


@pytest.fixture
def read_only_model(auth_model, basic_auth_mlflow, settings) -> str:  # type: ignore[no-untyped-def]
    """A fresh model (one version) made by the MLflow admin; the service account (created with
    `auth_model`) has MLflow's default READ on it."""
    settings.MLFLOW_TRACKING_URI = basic_auth_mlflow.url
    settings.MLFLOW_TRACKING_USERNAME, settings.MLFLOW_TRACKING_PASSWORD = basic_auth_mlflow.ADMIN
    name = f"search-auth-ro-{uuid.uuid4().hex[:8]}"
    run_id = mlf.create_run("0")
    mlf.create_registered_model(name)
    mlf.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id)
    return name


def test_refused_approval_write_says_retrying_will_not_help(read_only_model, as_service, personas) -> None:
    from registry_ui.approvals import services as approvals

    member = personas["member_search"]
    request = approvals.approval_request_create(actor=member, model_name=read_only_model, version="1")
    as_service()
    with pytest.raises(approvals.ApprovalWriteFailed) as refused:
        approvals.approval_request_approve(actor=personas["lead_search"], request_id=request.pk)
    message = str(refused.value)
    assert f"lacks EDIT on model {read_only_model}" in message and "retrying will not help" in message.lower()
    assert "Try again" not in message, message
    request.refresh_from_db()
    assert request.state == "pending" and "approved_by" not in mlf.get_model_version(read_only_model, "1").tags


def test_authentication_probe_fails_when_the_service_account_lacks_edit_on_a_model(
    read_only_model, as_service, basic_auth_mlflow, settings
) -> None:
    """A service account downgraded to READ can still read, but every promotion of that model will be
    refused: the probe names the model."""
    as_service()
    probe = probes.authentication()
    assert probe.status == probes.FAIL, probe.evidence
    assert f"lacks EDIT on model {read_only_model}" in probe.evidence
    settings.MLFLOW_TRACKING_USERNAME, settings.MLFLOW_TRACKING_PASSWORD = basic_auth_mlflow.ADMIN
    assert probes.authentication().status == probes.PASS  # an MLflow admin may change every model


def test_permission_page_and_sync_name_refused_credentials(as_service, client, personas) -> None:
    from django.core.management import CommandError, call_command

    as_service(password="not-the-password-0000")
    client.force_login(personas["admin"])
    page = client.get("/accounts/mlflow-permissions/")
    assert page.status_code == 502
    assert b"refused mlopsadmin&#x27;s credentials" in page.content and b"lacks a permission" not in page.content
    with pytest.raises(CommandError, match="refused mlopsadmin's credentials"):
        call_command("sync_mlflow_permissions", "--dry-run")


def test_install_commands_report_refusals_without_a_traceback(as_service) -> None:
    from django.core.management import CommandError, call_command

    as_service(password="not-the-password-0000")
    for command in ("import_approvals", "alias_baseline", "alias_reconcile"):
        with pytest.raises(CommandError, match="refused mlopsadmin's credentials"):
            call_command(command)
    with pytest.raises(CommandError, match="Not a valid registered model name"):
        call_command("alias_reconcile", model="a/b")


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_proxy_answering_for_a_tracking_server_that_is_down_is_unreachable(
    mlflow_server, settings, personas, status
) -> None:
    """MLflow behind a proxy: when the server is down the proxy answers 502/503/504 itself (HTML, not MLflow's
    JSON). That is the server not answering (retryable, 503), not "an error inside the tracking server (it
    is reachable)". MLflow's own 503 (JSON, its store failing) stays a server error (test above)."""
    from tests.faults import FaultProxy

    with FaultProxy(mlflow_server) as proxy:
        settings.MLFLOW_TRACKING_URI = proxy.url
        proxy.fail_with, proxy.fail_body = status, b"<html><body><h1>%d</h1><hr>nginx</body></html>" % status
        with pytest.raises(mlf.MlflowUnavailable) as down:  # raw HTTP: the proxy's HTML body is seen
            mlf.credentials_check()
        assert f"HTTP {status}" in str(down.value) and "it is reachable" not in str(down.value)
        with pytest.raises(mlf.MlflowUnavailable) as failed:  # the gateway's calls, after their retries
            list(mlf.iter_registered_models())
        assert f"HTTP {status}" in str(failed.value) and "it is reachable" not in str(failed.value)
        answer = _api(personas, "admin").get("/api/v1/registry/models")
        assert answer.status_code == 503, answer.content


def test_a_login_page_instead_of_mlflow_fails_health(mlflow_server, settings, personas, client) -> None:
    """A sign-in proxy in front of MLflow answers 200 with its HTML login page: health and the
    authentication probe fail, and calls say what answered instead of "unreachable"."""
    from tests.faults import FaultProxy

    with FaultProxy(mlflow_server) as proxy:
        settings.MLFLOW_TRACKING_URI = proxy.url
        proxy.fail_with, proxy.fail_body = 200, b"<html><body><form>Sign in with SSO</form></body></html>"
        with pytest.raises(mlf.MlflowError) as wrong:
            list(mlf.iter_registered_models())
        assert "not MLflow's" in str(wrong.value) and "unreachable" not in str(wrong.value)
        assert not isinstance(wrong.value, mlf.MlflowUnavailable)
        client.force_login(personas["admin"])
        health = client.get("/healthz")
        assert health.status_code == 503 and "not MLflow's" in health.json()["checks"]["mlflow"]["detail"]
        assert probes.authentication().status == probes.FAIL
