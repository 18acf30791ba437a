"""The audit page: filters in the URL, keyset pages, htmx fragments, the event page, histories."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mlopsadmin.core.models import AuditEvent

from .conftest import record

pytestmark = pytest.mark.django_db


def ids_on(response) -> list[int]:  # type: ignore[no-untyped-def]
    return [e.id for e in response.context["page"].events]


def test_newest_first_and_filters_combine(login, sample_events) -> None:  # type: ignore[no-untyped-def]
    client = login("auditor")
    everything = ids_on(client.get(reverse("audit:index")))
    assert everything[: len(sample_events)] == sorted((e.id for e in sample_events), reverse=True)
    fraud_approvals = ids_on(client.get(reverse("audit:index"), {"team": "fraud", "action": "approval."}))
    assert fraud_approvals == [sample_events[1].id, sample_events[0].id]
    exact = ids_on(client.get(reverse("audit:index"), {"action": "approval"}))
    assert exact == []  # without the trailing dot it is an exact action name
    by_actor = ids_on(client.get(reverse("audit:index"), {"actor": "lead_fraud", "target_kind": "model"}))
    assert by_actor == [sample_events[3].id, sample_events[2].id]
    by_target = ids_on(
        client.get(reverse("audit:index"), {"target_kind": "model_version", "target_id": "fraud-detector/7"})
    )
    assert by_target == [sample_events[7].id, sample_events[1].id, sample_events[0].id]
    by_text = ids_on(client.get(reverse("audit:index"), {"q": "INC-12"}))
    assert by_text == [sample_events[7].id]


def test_time_range_filter(login, sample_events) -> None:  # type: ignore[no-untyped-def]
    client = login("auditor")
    middle = sample_events[4].occurred_at
    since = ids_on(client.get(reverse("audit:index"), {"since": middle.isoformat(), "actor": "lead_fraud"}))
    assert since == [sample_events[7].id]
    until = ids_on(client.get(reverse("audit:index"), {"until": middle.isoformat(), "actor": "lead_search"}))
    assert until == []  # exclusive upper bound
    day = middle.date().isoformat()
    assert sample_events[4].id in ids_on(client.get(reverse("audit:index"), {"since": day, "until": day}))


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"before": "abc"},
        {"after": "-4"},
        {"since": "2026-05-02", "until": "2026-05-01"},
        {"actor": "a\x00b"},
    ],
)
def test_bad_filters_give_400_not_500(login, params) -> None:  # type: ignore[no-untyped-def]
    response = login("auditor").get(reverse("audit:index"), params)
    assert response.status_code == 400


def test_cursor_pages_have_no_duplicates_or_gaps(login, settings) -> None:  # type: ignore[no-untyped-def]
    settings.AUDIT_PAGE_SIZE = 7
    for n in range(45):
        record(action="thing.step" if n % 3 else "other.step", target_id=str(n))
    client = login("auditor")
    expected = list(AuditEvent.objects.filter(action="thing.step").order_by("-id").values_list("id", flat=True))
    seen, pages, params = [], [], {"action": "thing.step"}
    while True:
        response = client.get(reverse("audit:index"), params)
        page = response.context["page"]
        pages.append(ids_on(response))
        seen += ids_on(response)
        if not page.next_cursor:
            break
        assert f"before={page.next_cursor}" in response.context["older_query"]
        params = {"action": "thing.step", "before": page.next_cursor}
    assert seen == expected and len(set(seen)) == len(seen)
    assert all(len(p) == 7 for p in pages[:-1])
    # Walking back with "Newer" gives the same pages in reverse.
    newer = client.get(reverse("audit:index"), {"action": "thing.step", "after": pages[2][0]})
    assert ids_on(newer) == pages[1]
    assert ids_on(client.get(reverse("audit:index"), {"action": "thing.step", "after": pages[1][0]})) == pages[0]


def test_htmx_request_gets_only_the_table(login, sample_events) -> None:  # type: ignore[no-untyped-def]
    client = login("auditor")
    response = client.get(
        reverse("audit:index"), {"team": "fraud"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="audit-results"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="audit-results">') and "<html" not in body
    assert "export.csv?team=fraud" in body
    full = client.get(reverse("audit:index"), {"team": "fraud"}).content.decode()
    assert 'hx-push-url="true"' in full and 'name="team"' in full


def test_page_needs_audit_view(login, sample_events) -> None:  # type: ignore[no-untyped-def]
    assert login("member_search").get(reverse("audit:index")).status_code == 403
    assert login("lead_search").get(reverse("audit:index")).status_code == 200


def test_event_page_shows_readable_difference(login, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MLFLOW_UI_URL = "http://mlflow.example"
    event = record(
        action="model.settings_edit",
        target_kind="model_version",
        target_id="fraud-detector/7",
        before={"tags": {"stage": "staging", "owner": "ann"}, "desc": "x", "gone": 1},
        after={"tags": {"stage": "production", "owner": "ann", "new": [1, 2]}, "desc": "x"},
        request_id="req-abc-123",
        outcome="partial",
    )
    response = login("auditor").get(reverse("audit:event", args=[event.id]))
    assert response.status_code == 200
    changes = {line.path: line.change for line in response.context["diff"]}
    assert changes == {
        "tags.stage": "changed",
        "tags.new.0": "added",
        "tags.new.1": "added",
        "gone": "removed",
        "tags.owner": "same",
        "desc": "same",
    }
    body = response.content.decode()
    assert "req-abc-123" in body and "partial" in body
    assert "http://mlflow.example/#/models/fraud-detector/versions/7" in body
    assert login("auditor").get(reverse("audit:event", args=[999999])).status_code == 404


def test_links_are_built_defensively(settings) -> None:  # type: ignore[no-untyped-def]
    from mlopsadmin.audit.links import app_path, mlflow_url

    settings.MLFLOW_UI_URL = "http://m"
    assert mlflow_url("experiment", "42") == "http://m/#/experiments/42"
    assert mlflow_url("run", "r1", None, {"experiment_id": 5}) == "http://m/#/experiments/5/runs/r1"
    assert mlflow_url("run", "r1", None, {"status": "x"}) is None
    assert mlflow_url("team", "search") is None
    assert app_path("team", "search") is None and app_path("user", "x") is None
    # A page link is offered only if the page exists in this installation's URL map.
    from django.urls import Resolver404, resolve

    try:
        resolve("/catalog/experiments/42/")
        assert app_path("experiment", "42") == "/catalog/experiments/42/"
    except Resolver404:
        assert app_path("experiment", "42") is None


def test_model_version_history_includes_model_level_mentions(login, sample_events) -> None:  # type: ignore[no-untyped-def]
    response = login("auditor").get(reverse("audit:history", args=["model_version", "fraud-detector/7"]))
    ids = [e.id for e in response.context["events"]]
    # own events + the champion alias move naming version 7; not the challenger move (5 → 8)
    assert ids == [sample_events[0].id, sample_events[1].id, sample_events[2].id, sample_events[7].id]
    assert "via model:fraud-detector" in response.content.decode()


def test_experiment_history_includes_its_runs(login, sample_events) -> None:  # type: ignore[no-untyped-def]
    response = login("auditor").get(reverse("audit:history", args=["experiment", "42"]))
    assert [e.action for e in response.context["events"]] == ["experiment.rename", "run.delete"]


def test_checklist_history(login, sample_events) -> None:  # type: ignore[no-untyped-def]
    response = login("auditor").get(reverse("audit:history", args=["checklist", "3"]))
    assert [e.id for e in response.context["events"]] == [sample_events[6].id]
    assert "backup verified" in response.content.decode()


def test_htmx_push_url_carries_only_filters_in_use(login, sample_events) -> None:  # type: ignore[no-untyped-def]
    response = login("auditor").get(
        reverse("audit:index"),
        {"team": "fraud", "actor": "", "q": "", "before": ""},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="audit-results",
    )
    assert response["HX-Push-Url"] == "/audit/?team=fraud"


def test_redaction_keeps_flags_but_hides_secret_values(db) -> None:  # type: ignore[no-untyped-def]
    event = record(after={"password_changed": True, "password": "hunter2", "api_key": {"k": "v"}, "token_hint": None})
    assert event.after == {
        "password_changed": True,
        "password": "[redacted]",
        "api_key": "[redacted]",
        "token_hint": None,
    }


def test_history_refuses_unusable_targets(login) -> None:  # type: ignore[no-untyped-def]
    assert login("auditor").get("/audit/history/run/abc%00def/").status_code == 400
    assert login("auditor").get("/audit/history/run/" + "x" * 600 + "/").status_code == 400


def test_a_long_history_says_how_many_it_shows_of_how_many(login, sample_events, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Beyond the page's limit the history says "the latest N of M" (it said "latest events only"), and an
    old model-level mention of a version behind many newer model events is still found (it was dropped
    without any notice: only the model's latest events were looked at)."""
    from mlopsadmin.audit import selectors

    monkeypatch.setattr(selectors, "HISTORY_LIMIT", 3)
    for index in range(5):
        record(action="experiment.tag", target_kind="experiment", target_id="77", after={"n": index})
    page = login("auditor").get(reverse("audit:history", args=["experiment", "77"])).content.decode()
    assert "Showing the latest 3 of 5 events" in page

    record(action="model.alias", target_kind="model", target_id="m77", after={"champion_version": "4"})
    for index in range(4):  # newer alias moves that do not name version 4
        record(
            action="model.alias", target_kind="model", target_id="m77", after={"challenger_version": str(10 + index)}
        )
    record(action="version.update", target_kind="model_version", target_id="m77/4")
    response = login("auditor").get(reverse("audit:history", args=["model_version", "m77/4"]))
    assert [e.action for e in response.context["events"]] == ["model.alias", "version.update"]
    assert "Showing the latest" not in response.content.decode()
