"""Registry pages: overview, model page, version page (lineage, comparison chart, tag editing), inbox,
conventions page, nav badge and home tile."""

from __future__ import annotations

import re

import pytest

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.approvals import services
from registry_ui.models import NamingWord

pytestmark = pytest.mark.django_db


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return re.sub(r"\s+", " ", response.content.decode())


def _model_row(client, name: str) -> str:  # type: ignore[no-untyped-def]
    """The model's row of the overview, searched by name (other tests add models to the shared server,
    so an unfiltered first page need not hold it)."""
    page = _text(client.get("/registry/", {"q": name}))
    return re.search(rf'<tr data-model="{re.escape(name)}">(.*?)</tr>', page).group(1)


def test_registry_page_lists_models_with_team_aliases_and_lint(mlflow, login) -> None:
    client = login("outsider")
    row = _model_row(client, "search-ranker")
    assert "Search" in row and ">v1<" in row and ">v2<" in row and ">v3<" in row
    xgb = _model_row(client, "xgboost-fraud-v3")
    assert "algorithm: xgboost" in xgb and "version: v3" in xgb
    assert "ok" in _model_row(client, "fraud-detector")
    flagged = _text(client.get("/registry/", {"flagged": "1", "q": "fraud"}))
    assert "xgboost-fraud-v3" in flagged and 'data-model="fraud-detector"' not in flagged


def test_model_page_shows_versions_metadata_and_promotion_include(own_model, login) -> None:
    response = login("member_search").get(f"/registry/models/{own_model.name}/")
    assert response.status_code == 200
    page = _text(response)
    assert "filled by the promotion feature" not in page  # the template comment renders nothing
    assert "registry_ui/_promotion_panel.html" in [t.name for t in response.templates]
    v1 = re.search(r'<tr data-version="1">(.*?)</tr>', page).group(1)
    assert "@champion" in v1 and "0.8000" in v1  # gate metric value from the source run
    assert "missing training_commit, validation_ndcg, approved_by, approval_date" in v1
    assert login("outsider").get("/registry/models/no-such-model-abc/").status_code == 404


def test_version_page_shows_lineage_comparison_and_chart(own_model, login) -> None:
    page = _text(login("outsider").get(f"/registry/models/{own_model.name}/versions/2/"))
    assert own_model.run_ids[1] in page and "registry-tests/" in page
    assert "abc1def" in page and "v2026.02.01" in page and "s3://data/search/" in page  # git, data, training_data
    assert "learning_rate" in page
    gate = re.search(r'<tr class="gate">(.*?)</tr>', page).group(1)
    assert "0.8000" in gate and "0.8400" in gate and "+5.00 %" in gate
    assert "<polyline" not in page and 'id="comparison-chart"' in page  # read from MLflow after the page
    with_chart = _text(login("outsider").get(f"/registry/models/{own_model.name}/versions/2/", {"chart": "1"}))
    assert with_chart.count("<polyline") == 2 and "champion v1" in with_chart and "candidate v2" in with_chart
    fragment = login("outsider").get(
        f"/registry/models/{own_model.name}/versions/2/", {"chart": "1"}, HTTP_HX_REQUEST="true"
    )
    assert fragment.content.decode().count("<polyline") == 2 and b"Lineage" not in fragment.content
    assert "Request approval" not in page  # outsider may not
    assert login("outsider").get(f"/registry/models/{own_model.name}/versions/42/").status_code == 404


def test_tag_edit_in_place_with_htmx(own_model, login) -> None:
    client = login("member_search")
    url = f"/registry/models/{own_model.name}/versions/1/tags"
    editor = client.get(url, {"key": "training_commit", "edit": "1"}, HTTP_HX_REQUEST="true")
    assert 'name="value"' in editor.content.decode()
    saved = client.post(url, {"key": "training_commit", "value": "c0ffee42"}, HTTP_HX_REQUEST="true")
    assert saved.status_code == 200 and "c0ffee42" in saved.content.decode() and "saved" in saved.content.decode()
    assert mlf.get_model_version(own_model.name, "1").tags["training_commit"] == "c0ffee42"
    event = AuditEvent.objects.get(action="model_version.tag_set", target_id=f"{own_model.name}/1")
    assert event.after == {"training_commit": "c0ffee42"} and event.actor_name == "member_search"
    denied = login("member_fraud").post(url, {"key": "training_commit", "value": "x"})
    assert denied.status_code == 403
    assert mlf.get_model_version(own_model.name, "1").tags["training_commit"] == "c0ffee42"


def test_request_and_decide_through_the_pages(own_model, login, personas) -> None:
    member = login("member_search")
    response = member.post(f"/registry/models/{own_model.name}/versions/2/request", {"comment": "go"})
    assert response.status_code == 302
    request_id = services.selectors.approval_pending_for_version(model_name=own_model.name, version="2").pk
    self_decide = login("lead_search")
    lead_page = _text(self_decide.get("/registry/inbox/"))
    assert f'data-request="{request_id}"' in lead_page
    assert re.search(r'id="nav-badge-registry">\s*1\s*<', self_decide.get("/").content.decode())
    refused = login("admin").post(f"/registry/requests/{request_id}/decide", {"decision": "reject"})
    assert refused.status_code == 400  # a rejection needs a comment
    done = login("lead_search").post(
        f"/registry/requests/{request_id}/decide", {"decision": "approve", "next": "inbox"}
    )
    assert done.status_code == 302 and done["Location"] == "/registry/inbox/"
    assert mlf.get_model_version(own_model.name, "2").tags["approved_by"] == "lead_search"
    again = login("admin").post(f"/registry/requests/{request_id}/decide", {"decision": "reject", "comment": "x"})
    assert again.status_code == 409 and "already approved" in again.content.decode()


def test_conventions_page_edits_word_lists_audited(mlflow, login) -> None:
    assert (
        login("lead_search")
        .post("/registry/settings/", {"action": "word_add", "word": "prophet", "kind": "algorithm"})
        .status_code
        == 403
    )
    response = login("admin").post(
        "/registry/settings/", {"action": "word_add", "word": "Prophet", "kind": "algorithm"}
    )
    assert response.status_code == 302
    assert NamingWord.objects.filter(word="prophet", kind="algorithm").exists()
    assert AuditEvent.objects.filter(action="naming_word.add", target_id="naming-word:prophet").count() == 1
    word = NamingWord.objects.get(word="xgboost")
    login("admin").post("/registry/settings/", {"action": "word_remove", "id": word.pk})
    xgb = _model_row(login("outsider"), "xgboost-fraud-v3")
    assert "algorithm: xgboost" not in xgb and "version: v3" in xgb
    assert "prophet" in _text(login("outsider").get("/registry/settings/"))


def test_home_tile_shows_pending_approvals(own_model, login, personas) -> None:
    services.approval_request_create(actor=personas["member_search"], model_name=own_model.name, version="1")
    page = _text(login("lead_search").get("/"))
    assert "Pending approvals" in page and "1 waiting for your decision" in page
