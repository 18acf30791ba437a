"""The registry API: same services and rules as the pages, token auth, clear status codes."""

from __future__ import annotations

import pytest
from django.test import Client

from mlopsadmin.core.services import api_token_create
from mlopsadmin.lib import mlflow_client as mlf

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(personas):  # type: ignore[no-untyped-def]
    def _client(username: str) -> Client:
        _, raw = api_token_create(actor=personas[username], user=personas[username], name="ci")
        return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    return _client


def test_api_approval_workflow_and_status_codes(own_model, api) -> None:
    member, lead, lead_fraud, admin = api("member_search"), api("lead_search"), api("lead_fraud"), api("admin")
    name, version = own_model.name, own_model.versions[1]
    body = {"model_name": name, "version": version, "comment": "ready"}
    created = member.post("/api/v1/registry/approvals", body, content_type="application/json")
    assert created.status_code == 201, created.content
    request_id = created.json()["id"]
    assert created.json()["state"] == "pending"
    assert member.post("/api/v1/registry/approvals", body, content_type="application/json").status_code == 409
    assert (
        api("member_fraud")
        .post("/api/v1/registry/approvals", {**body, "version": own_model.versions[0]}, content_type="application/json")
        .status_code
        == 403
    )
    unknown = member.post("/api/v1/registry/approvals", {**body, "version": "77"}, content_type="application/json")
    assert unknown.status_code == 404

    url = f"/api/v1/registry/approvals/{request_id}"
    assert lead_fraud.post(f"{url}/approve", {}, content_type="application/json").status_code == 403
    assert member.post(f"{url}/approve", {}, content_type="application/json").status_code == 403
    own = admin.post(
        "/api/v1/registry/approvals", {**body, "version": own_model.versions[0]}, content_type="application/json"
    )
    four_eyes = admin.post(
        f"/api/v1/registry/approvals/{own.json()['id']}/approve", {}, content_type="application/json"
    )
    assert four_eyes.status_code == 422 and "Four-eyes" in four_eyes.json()["detail"]

    approved = lead.post(f"{url}/approve", {"comment": "lgtm"}, content_type="application/json")
    assert approved.status_code == 200 and approved.json()["decided_by"] == "lead_search"
    assert mlf.get_model_version(name, version).tags["approved_by"] == "lead_search"
    again = admin.post(f"{url}/reject", {"comment": "late"}, content_type="application/json")
    assert again.status_code == 409
    assert member.post(f"{url}/withdraw", {}, content_type="application/json").status_code == 409
    missing = lead.post("/api/v1/registry/approvals/999999/approve", {}, content_type="application/json")
    assert missing.status_code == 404

    versions = member.get(f"/api/v1/registry/models/{name}/versions").json()
    by_version = {v["version"]: v for v in versions}
    assert by_version[version]["approved"] is True and by_version[version]["approval_state"] == "approved"
    assert by_version[own_model.versions[0]]["approval_state"] == "pending"
    assert member.get("/api/v1/registry/models/no-such-model-xyz/versions").status_code == 404
    assert Client().get("/api/v1/registry/models").status_code == 401


def test_api_lists_models_with_team_aliases_and_naming(mlflow, api) -> None:
    models = {m["name"]: m for m in api("outsider").get("/api/v1/registry/models").json()}
    assert models["search-ranker"]["team"] == "search"
    assert models["search-ranker"]["aliases"] == {"previous-champion": "1", "champion": "2", "challenger": "3"}
    assert models["fraud-detector"]["naming_findings"] == []
    assert {f["rule"] for f in models["xgboost-fraud-v3"]["naming_findings"]} == {"algorithm", "version"}


def test_api_bad_input_is_a_clear_4xx_and_changes_nothing(mlflow, api) -> None:
    admin = api("admin")
    nul = admin.post(
        "/api/v1/registry/approvals", {"model_name": "a\x00b", "version": "1"}, content_type="application/json"
    )
    assert nul.status_code == 422  # a NUL inside a JSON body (the API contract, RequestContractMiddleware)
    bad_version = admin.post(
        "/api/v1/registry/approvals", {"model_name": "search-ranker", "version": "one"}, content_type="application/json"
    )
    assert bad_version.status_code == 422  # schema validation
    unknown_model = admin.post(
        "/api/v1/registry/approvals", {"model_name": "no-such-model-q", "version": "1"}, content_type="application/json"
    )
    assert unknown_model.status_code == 404
    assert admin.get("/api/v1/registry/models/bad%00name/versions").status_code == 400  # NUL in the path
    assert admin.get("/api/v1/registry/approvals", {"state": "bogus"}).status_code == 422
    assert admin.get("/api/v1/registry/approvals", {"state": "pending"}).json() == []
