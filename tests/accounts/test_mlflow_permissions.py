"""MLflow permissions kept in step, against a real `mlflow server --app-name basic-auth` started here.

Before the sync, the seeded over-privileged MLflow users can move @champion directly (MLflow accepts it) and
the drift page lists them; after one audited apply, MLflow itself refuses them (403), team members still edit
their team's experiments, and the drift page is empty. A new experiment gets its grants on the next sync."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from django.core.management import call_command
from django.test import Client

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_auth, mlflow_client

from .basic_auth_server import SERVICE_PASSWORD, SERVICE_USER, basic_auth_server

pytestmark = [pytest.mark.slow]
PASSWORDS = {"member_search": "member-pw-1234", "outsider": "outsider-pw-1234"}


@pytest.fixture(scope="module")
def auth_server() -> Iterator[str]:
    with basic_auth_server() as url:
        yield url


@pytest.fixture
def governed_mlflow(auth_server: str, settings: object) -> dict[str, str]:
    """The basic-auth server seeded as the service account: two team experiments, search-ranker v1 @champion,
    and two over-privileged MLflow users (a direct EDIT and a direct MANAGE on the model)."""
    settings.MLFLOW_TRACKING_URI = settings.MLFLOW_UI_URL = auth_server  # type: ignore[attr-defined]
    settings.MLFLOW_TRACKING_USERNAME = SERVICE_USER  # type: ignore[attr-defined]
    settings.MLFLOW_TRACKING_PASSWORD = SERVICE_PASSWORD  # type: ignore[attr-defined]
    ids = {}
    for name in ("/search-team/ranking/ltr", "/fraud-team/scoring/gbm"):
        existing = mlflow_client.get_experiment_by_name(name)
        ids[name] = existing.experiment_id if existing else mlflow_client.create_experiment(name)
    try:
        mlflow_client.get_registered_model("search-ranker")
    except mlflow_client.MlflowNotFound:
        mlflow_client.create_registered_model("search-ranker")
        run_id = mlflow_client.create_run(ids["/search-team/ranking/ltr"])
        mlflow_client.create_model_version("search-ranker", source=f"runs:/{run_id}/model", run_id=run_id)
        mlflow_client.set_model_alias("search-ranker", "champion", "1")
    known = {u.username for u in mlflow_auth.list_users()}
    for username, password in PASSWORDS.items():
        if username not in known:
            mlflow_auth.create_user(username, password)
    for username, permission in (("member_search", "EDIT"), ("outsider", "MANAGE")):
        if not any(g.resource_pattern == "search-ranker" for g in mlflow_auth.list_grants(username)):
            mlflow_auth.grant(username, "registered_model", "search-ranker", permission)
    return ids


def _set_champion_as(username: str, url: str) -> int:
    return requests.post(
        f"{url}/api/2.0/mlflow/registered-models/alias",
        json={"name": "search-ranker", "alias": "champion", "version": "1"},
        auth=(username, PASSWORDS[username]),
        timeout=10,
    ).status_code


def _create_run_as(username: str, url: str, experiment_id: str) -> int:
    return requests.post(
        f"{url}/api/2.0/mlflow/runs/create",
        json={"experiment_id": experiment_id},
        auth=(username, PASSWORDS[username]),
        timeout=10,
    ).status_code


@pytest.mark.django_db
def test_sync_closes_the_bypass_and_empties_the_drift_page(personas, governed_mlflow, auth_server, login) -> None:  # type: ignore[no-untyped-def]
    assert _set_champion_as("member_search", auth_server) == 200  # today: around the gate, accepted by MLflow
    admin = login("admin")
    page = admin.get("/accounts/mlflow-permissions/").content.decode()
    assert 'data-state="in-step"' not in page
    exposures = page.split('id="exposures"')[1].split("</table>")[0]
    assert 'data-user="member_search"' in exposures and 'data-user="outsider"' in exposures
    changes = page.split('id="changes"')[1].split("</table>")[0]
    assert "search-ranker" in changes and "/search-team/ranking/ltr" in changes
    assert "lead_search" in page  # a team lead with no MLflow user yet

    fingerprint = page.split('name="fingerprint" value="')[1].split('"')[0]
    response = admin.post("/accounts/mlflow-permissions/apply", {"fingerprint": fingerprint, "create_users": "on"})
    assert response.status_code == 302

    assert _set_champion_as("member_search", auth_server) == 403  # refused by MLflow itself
    assert _set_champion_as("outsider", auth_server) == 403
    search_id, fraud_id = governed_mlflow["/search-team/ranking/ltr"], governed_mlflow["/fraud-team/scoring/gbm"]
    assert _create_run_as("member_search", auth_server, search_id) == 200  # still edits the team's experiments
    assert _create_run_as("member_search", auth_server, fraud_id) == 403
    assert mlflow_auth.effective_permission("lead_search", "experiment", search_id) == "EDIT"
    assert 'data-state="in-step"' in admin.get("/accounts/mlflow-permissions/").content.decode()

    event = AuditEvent.objects.get(action="mlflow_permissions.sync")
    assert event.actor_name == "admin" and event.outcome == "ok"
    revoked = {(c["username"], c["resource_id"]) for c in event.after["applied"] if not c["intended"]}
    assert {("member_search", "search-ranker"), ("outsider", "search-ranker")} <= revoked
    assert "lead_search" in event.after["created_users"]

    # a new experiment of the search team: the next sync grants its members EDIT; the command does the same
    new_id = mlflow_client.create_experiment("/search-team/ranking/new-idea")
    assert _create_run_as("member_search", auth_server, new_id) == 403
    call_command("sync_mlflow_permissions", "--dry-run")
    assert _create_run_as("member_search", auth_server, new_id) == 403  # a dry run changes nothing
    call_command("sync_mlflow_permissions")
    assert _create_run_as("member_search", auth_server, new_id) == 200
    assert AuditEvent.objects.filter(action="mlflow_permissions.sync").count() == 2


@pytest.mark.django_db
def test_a_plan_that_changed_since_the_page_is_not_applied(personas, governed_mlflow, login) -> None:  # type: ignore[no-untyped-def]
    admin = login("admin")
    response = admin.post("/accounts/mlflow-permissions/apply", {"fingerprint": "0" * 16})
    assert response.status_code == 409
    assert not AuditEvent.objects.filter(action="mlflow_permissions.sync").exists()


@pytest.mark.django_db
def test_only_admins_see_or_apply_the_drift(personas, governed_mlflow, login) -> None:  # type: ignore[no-untyped-def]
    for username in ("lead_search", "operator", "auditor"):
        client = login(username)
        assert client.get("/accounts/mlflow-permissions/").status_code == 403
        assert client.post("/accounts/mlflow-permissions/apply").status_code == 403


@pytest.mark.django_db
def test_drift_page_without_basic_auth_says_so(personas, mlflow, login) -> None:  # type: ignore[no-untyped-def]
    page = login("admin").get("/accounts/mlflow-permissions/")
    assert page.status_code == 200 and 'data-state="no-auth"' in page.content.decode()


@pytest.mark.django_db
def test_drift_page_with_mlflow_down_is_a_clear_503(personas, settings, login) -> None:  # type: ignore[no-untyped-def]
    from mlopsadmin.lib.mlflow_server import free_port

    settings.MLFLOW_TRACKING_URI = f"http://127.0.0.1:{free_port()}"
    page = login("admin").get("/accounts/mlflow-permissions/")
    assert page.status_code == 503 and "Traceback" not in page.content.decode()
    assert Client().get("/accounts/mlflow-permissions/").status_code == 302


def test_beat_entry_is_off_by_default_and_runs_the_sync_when_scheduled(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mlopsadmin.schedules import beat_schedule

    assert "mlflow_permissions" not in beat_schedule()
    monkeypatch.setenv("SCHEDULE_MLFLOW_PERMISSIONS", "20 * * * *")
    entry = beat_schedule()["mlflow_permissions"]
    assert entry["task"] == "mlopsadmin.accounts.tasks.sync_mlflow_permissions_scheduled"


@pytest.mark.django_db
def test_scheduled_sync_fixes_drift_as_the_system(personas, governed_mlflow, auth_server, settings) -> None:  # type: ignore[no-untyped-def]
    from mlopsadmin.accounts.tasks import sync_mlflow_permissions_scheduled

    mlflow_auth.grant("outsider", "experiment", governed_mlflow["/fraud-team/scoring/gbm"], "MANAGE")
    settings.MLFLOW_PERMISSIONS_CREATE_USERS = True
    report = sync_mlflow_permissions_scheduled()
    assert report["failed"] == 0 and report["remaining"] == 0
    assert _create_run_as("outsider", auth_server, governed_mlflow["/fraud-team/scoring/gbm"]) == 403
    event = AuditEvent.objects.filter(action="mlflow_permissions.sync").latest("id")
    assert event.actor_name == "system:schedule.mlflow_permissions"
