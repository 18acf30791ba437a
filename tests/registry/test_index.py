"""Registry pages from a local index (issue 20, case 2): models, versions with their gate metric, aliases,
approval state and metadata completeness come from the index; changes made in MLflow outside mlopsadmin
appear after a sync, changes mlopsadmin makes appear at once, deleted models and versions disappear, and
the pages say how old what they show is."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib.mlflow_server import free_port
from registry_ui.index_sync import registry_sync
from registry_ui.models import IndexedModel, IndexedVersion
from tests.registry.conftest import make_model

pytestmark = pytest.mark.django_db


def _text(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", response.content.decode())


def _row(page: str, version: str) -> str:
    found = re.search(rf'<tr data-version="{version}">(.*?)</tr>', page)
    assert found, f"no row of v{version}"
    return found.group(1)


def _versions(page: str) -> list[str]:
    return re.findall(r'<tr data-version="(\d+)">', page)


def test_external_changes_appear_after_a_sync_and_not_before(mlflow, login) -> None:
    """Made directly in MLflow: a new version, an alias move, a version deleted, a version tag."""
    own = make_model(scores=(0.80, 0.84))
    client = login("outsider")
    url = f"/registry/models/{own.name}/"
    first = _text(client.get(url))
    assert _versions(first) == ["2", "1"] and "as of " in first and " UTC" in first
    run_id = mlf.create_run(own.experiment_id, run_name="external")
    mlf.log_batch(run_id, metrics=[("val_ndcg_at_10", 0.91, 0, 0)])
    mlf.create_model_version(own.name, source=f"runs:/{run_id}/model", run_id=run_id)
    mlf.set_model_alias(own.name, "champion", 2)
    mlf.delete_model_version(own.name, 1)
    mlf.set_model_version_tag(own.name, 2, "training_commit", "outside-1")
    stale = _text(client.get(url))
    assert _versions(stale) == ["2", "1"]  # served from the index: not read from MLflow per view
    assert "@champion" in _row(stale, "1")
    registry_sync(full=False)
    synced = _text(client.get(url))
    assert _versions(synced) == ["3", "2"]  # the new version in, the deleted one out
    assert "0.9100" in _row(synced, "3")  # its gate metric from its source run
    assert "@champion" in _row(synced, "2") and "@champion" not in _row(synced, "3")
    assert "training_commit" not in _row(synced, "2") and "missing" in _row(synced, "2")  # the tag is there
    assert "outside-1" in _text(client.get(f"{url}versions/2/"))
    assert client.get(f"{url}versions/1/").status_code == 404
    # A version tag alone moves no timestamp in MLflow: a full sync (or a webhook) brings it in.
    mlf.set_model_version_tag(own.name, 3, "training_commit", "outside-3")
    registry_sync(full=True)
    assert "training_commit" not in _row(_text(client.get(url)), "3")
    assert "outside-3" in _text(client.get(f"{url}versions/3/"))


def test_deleted_model_leaves_the_index(mlflow, login) -> None:
    own = make_model(scores=(0.81,))
    client = login("outsider")
    assert own.name in _text(client.get("/registry/", {"q": own.name}))
    assert _text(client.get(f"/registry/models/{own.name}/"))
    mlf.delete_model_version(own.name, 1)
    from mlopsadmin.lib.mlflow_rest import request

    request("delete_registered_model", "DELETE", "/registered-models/delete", {"name": own.name})
    registry_sync(full=False)
    assert f'data-model="{own.name}"' not in _text(client.get("/registry/", {"q": own.name}))
    assert not IndexedModel.objects.filter(name=own.name).exists()
    assert client.get(f"/registry/models/{own.name}/").status_code == 404


def test_changes_made_by_mlopsadmin_appear_at_once(mlflow, login, personas) -> None:
    """A tag edited on the page, an approval (its MLflow tags) and a promotion (aliases): no sync between."""
    from registry_ui.approvals import services as approvals
    from registry_ui.promotion import services as promotion
    from registry_ui.promotion.models import GatePolicy

    own = make_model(scores=(0.80, 0.84))
    client = login("member_search")
    url = f"/registry/models/{own.name}/"
    assert "@champion" in _row(_text(client.get(url)), "1")
    client.post(f"{url}versions/1/tags", {"key": "training_commit", "value": "c0ffee42"})
    assert "c0ffee42" in _text(client.get(f"{url}versions/1/"))
    request = approvals.approval_request_create(actor=personas["member_search"], model_name=own.name, version="2")
    approvals.approval_request_decide(actor=personas["lead_search"], request_id=request.pk, approve=True)
    GatePolicy.objects.create(model_name=own.name, require_approval=False, max_drop_pct=5.0, threshold=0.5)
    promotion.alias_promote(model_name=own.name, version="2", actor=personas["lead_search"])
    page = _text(client.get(url))
    assert "@champion" in _row(page, "2") and "@previous-champion" in _row(page, "1")
    assert "approved" in _row(page, "2")
    assert "approved_by" not in _row(page, "2") and "approved_by" in _row(page, "1")  # the tags it wrote


def test_indexed_pages_answer_without_mlflow(mlflow, login, settings) -> None:
    """Once indexed, the overview, the model page and the version page (its gate, lineage and comparison)
    read no MLflow: they answer with MLflow unreachable, saying when the data was read."""
    own = make_model(scores=(0.80, 0.84))
    client = login("outsider")
    call_command("registry_sync", "--wait")
    settings.MLFLOW_TRACKING_URI = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    overview = _text(client.get("/registry/", {"q": own.name}))
    assert f'data-model="{own.name}"' in overview and "as of " in overview
    model_page = _text(client.get(f"/registry/models/{own.name}/"))
    assert "0.8400" in _row(model_page, "2") and "0.8000" in _row(model_page, "1")
    version_page = _text(client.get(f"/registry/models/{own.name}/versions/2/"))
    assert own.run_ids[1] in version_page and "abc1def" in version_page and "learning_rate" in version_page
    gate = re.search(r'<tr class="gate">(.*?)</tr>', version_page).group(1)
    assert "0.8000" in gate and "0.8400" in gate and "+5.00 %" in gate
    assert 'id="comparison-chart"' in version_page  # the step chart is read from MLflow after the page
    chart = client.get(f"/registry/models/{own.name}/versions/2/", {"chart": "1"}, HTTP_HX_REQUEST="true")
    assert chart.status_code == 503  # that one needs MLflow, and says so


def test_model_page_reads_the_same_whatever_the_number_of_versions(mlflow, login) -> None:
    """A page of 25 versions costs the same database queries with 2 or 40 versions, and no MLflow call."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    small = make_model(scores=(0.8, 0.81))
    large = make_model(scores=tuple(0.5 + i / 100 for i in range(40)))
    client = login("outsider")
    call_command("registry_sync", "--wait", "--full")
    counts = []
    for own in (small, large, small, large):
        with CaptureQueriesContext(connection) as queries:
            page = _text(client.get(f"/registry/models/{own.name}/"))
        counts.append(len(queries))
        assert len(_versions(page)) == min(25, len(own.versions))
    assert counts[2] == counts[3], counts
    assert IndexedVersion.objects.filter(model__name=large.name).count() == 40


def test_sync_now_is_for_operators_and_admins(mlflow, login) -> None:
    for persona, status in (("outsider", 403), ("lead_search", 403), ("auditor", 403)):
        assert login(persona).post("/registry/sync").status_code == status
    answer = login("operator").post("/registry/sync", {"full": "1"})
    assert answer.status_code == 302
    api = login("admin").post("/api/v1/registry/sync", data={"full": False}, content_type="application/json")
    assert api.status_code == 202
    assert (
        login("member_search").post("/api/v1/registry/sync", data={}, content_type="application/json").status_code
        == 403
    )
    page = _text(login("operator").get("/registry/"))
    assert "Sync now" in page
    assert "Sync now" not in _text(login("member_search").get("/registry/"))


def test_version_dropdown_options_are_escaped() -> None:
    from mlopsadmin.core.templatetags.mlops import select_options

    html = select_options([("1", 'v1 (@<b>"x"&)'), ("2", "v2")])
    assert html == '<option value="1">v1 (@&lt;b&gt;&quot;x&quot;&amp;)</option><option value="2">v2</option>'


@pytest.mark.parametrize(
    "name",
    [
        "back\\slash-{uid}",  # `\s` is no Python escape: kept, with a warning
        "ends-with-backslash-{uid}\\",  # a trailing backslash closes no Python literal
        "escape\\N-{uid}",  # `\N` without braces is a syntax error to Python
        "newline-escape\\n-{uid}",  # `\n` would be read back as a newline
        "unicode-escape\\u00e9-{uid}",  # `\u00e9` would be read back as é
    ],
)
def test_a_sync_lists_names_with_backslashes_beside_ordinary_ones(mlflow, login, name: str) -> None:
    """MLflow reads an `IN (...)` list with Python's literal parser (backslash escapes apply) but an `=`
    literal as it is: a name with a backslash must not break the whole sync nor be read as another name."""
    import uuid

    odd = name.format(uid=uuid.uuid4().hex[:8])
    plain = make_model(scores=(0.70,))
    mlf.create_registered_model(odd)
    mlf.create_model_version(odd, source=f"runs:/{plain.run_ids[0]}/model", run_id=plain.run_ids[0])
    registry_sync(full=False)
    assert IndexedVersion.objects.filter(model__name=odd).count() == 1
    assert IndexedVersion.objects.filter(model__name=plain.name).count() == 1
    mlf.create_model_version(odd, source=f"runs:/{plain.run_ids[0]}/model", run_id=plain.run_ids[0])
    registry_sync(full=False)
    assert IndexedVersion.objects.filter(model__name=odd).count() == 2
