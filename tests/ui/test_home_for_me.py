"""Issue 19, "a home page for me": my pending requests, requests waiting for my decision (four-eyes: never
my own; the same count as the approval badge), my team's models and their champions, checklist items
due, my recent actions; each section with an empty state and each link to the right page."""

from __future__ import annotations

import pytest

from mlopsadmin.core.models import Team
from registry_ui.approvals import services
from tests.registry.conftest import make_model
from tests.ui.conftest import page_overflow


def _sections(client) -> tuple[dict, int]:  # type: ignore[no-untyped-def]
    response = client.get("/")
    assert response.status_code == 200
    return {s.key: s for s in response.context["sections"]}, response.context["nav_badges"].get("registry", 0)


@pytest.fixture
def requests_made(own_model, personas):  # type: ignore[no-untyped-def]
    """member_search asks for v2 of own_model; lead_search asks for v1 of a second search model."""
    other = make_model(champion=None)
    create = services.approval_request_create
    by_member = create(actor=personas["member_search"], model_name=own_model.name, version="2")
    by_lead = create(actor=personas["lead_search"], model_name=other.name, version="1")
    return own_model, other, by_member, by_lead


@pytest.mark.django_db
def test_lead_sees_own_requests_apart_from_decisions_and_the_badge_count(login, requests_made) -> None:
    own_model, other, by_member, by_lead = requests_made
    sections, badge = _sections(login("lead_search"))
    mine = sections["my-requests"]
    assert [i.text for i in mine.items] == [f"{other.name} v1"] and mine.count == 1
    assert mine.items[0].url == f"/registry/models/{other.name}/versions/1/"
    decisions = sections["my-decisions"]
    assert [i.text for i in decisions.items] == [f"{own_model.name} v2"]  # not the lead's own request
    assert decisions.count == badge == 1
    assert decisions.items[0].url == f"/registry/models/{own_model.name}/versions/2/"
    assert decisions.more_url == "/registry/inbox/"
    client = login("lead_search")  # the registry page and the home tile count the same (never one's own)
    assert "1 approval waiting for you" in client.get("/registry/").content.decode()
    tile = next(t for t in client.get("/").context["tiles"] if t.title == "Pending approvals")
    assert tile.detail == "1 waiting for your decision"
    models = {i.text: i for i in sections["my-models"].items}
    assert models[own_model.name].detail == "@champion v1" and models[own_model.name].url.endswith(
        f"/registry/models/{own_model.name}/"
    )
    assert models[other.name].detail == "no @champion" and models[other.name].level == "warning"
    assert sections["my-models"].count >= len(models) >= 2
    actions = sections["my-actions"]
    assert actions.items[0].text == f"approval requested for {other.name} v1"  # the audit page's summary line
    assert actions.items[0].detail.startswith("approval.request · ")
    assert actions.items[0].url.startswith("/audit/events/")  # ML leads read the audit log
    assert actions.more_url == "/audit/?actor=lead_search"


@pytest.mark.django_db
def test_admin_badge_and_section_agree_and_other_leads_see_none(login, requests_made) -> None:
    sections, badge = _sections(login("admin"))
    assert sections["my-decisions"].count == badge == 2  # every team's, the admin asked for nothing
    sections, badge = _sections(login("lead_fraud"))
    assert sections["my-decisions"].count == badge == 0 and sections["my-decisions"].items == []
    assert sections["my-decisions"].empty == "Nothing is waiting for your decision."
    assert {i.text for i in sections["my-models"].items}.isdisjoint({requests_made[0].name, requests_made[1].name})


@pytest.mark.django_db
def test_member_actions_link_to_what_they_changed(login, requests_made) -> None:
    own_model = requests_made[0]
    sections, badge = _sections(login("member_search"))
    assert badge == 0 and sections["my-decisions"].empty.startswith("Only ML leads")
    action = sections["my-actions"].items[0]
    assert action.url == f"/registry/models/{own_model.name}/versions/2/"  # members cannot read the audit log
    assert sections["my-actions"].more_url == ""


@pytest.mark.django_db
def test_every_section_has_an_empty_state(login, mlflow) -> None:
    sections, badge = _sections(login("outsider"))
    assert badge == 0
    assert {k: (s.count, s.items, s.empty) for k, s in sections.items()} == {
        "my-requests": (0, [], "You have no approval requests waiting for a decision."),
        "my-decisions": (0, [], "Only ML leads of the owning team (and admins) decide approval requests."),
        "my-models": (0, [], "You are not a member of any team."),
        "my-checklist": (0, [], "Checklist items are ticked by operators: nothing is due from you."),
        "my-actions": (0, [], "You have not changed anything yet."),
    }
    empty_team = Team.objects.create(name="empty", experiment_prefix="/empty-team")
    from mlopsadmin.core.models import Membership

    Membership.objects.create(user=login("outsider").get("/").context["user"], team=empty_team)
    sections, _ = _sections(login("outsider"))
    assert sections["my-models"].empty == "Your team owns no registered model yet." and not sections["my-models"].items


@pytest.mark.django_db
def test_operator_sees_checklist_items_due_with_links(login, monthly) -> None:
    sections, _ = _sections(login("operator"))
    due = sections["my-checklist"]
    manual = [i for i in monthly.items.all() if i.needs_tick]
    assert due.count >= len(manual) > 0
    first = next(i for i in due.items if i.text == manual[0].text)
    assert first.url == f"/checklists/{monthly.pk}/#item-{manual[0].key}"
    assert f"due {monthly.period_end:%Y-%m-%d}" in first.detail


@pytest.mark.django_db
def test_team_models_section_says_when_mlflow_does_not_answer(login, personas, settings, mlflow) -> None:
    settings.MLFLOW_TRACKING_URI = "http://127.0.0.1:9"  # nothing listens: the home page still answers
    sections, _ = _sections(login("lead_search"))
    assert sections["my-models"].error.startswith("MLflow did not answer")
    assert sections["my-requests"].error == ""


@pytest.mark.django_db
def test_team_models_come_from_the_registry_index(login, personas, settings, own_model) -> None:
    """Known leftover: the home page listed every registered model from MLflow on each view (all pages of
    search_registered_models, uncached); the registry pages read the local index. Now the section does
    too: once the index holds the models, the home page asks MLflow nothing (here MLflow is unreachable)."""
    from registry_ui.index_sync import registry_sync

    registry_sync(full=True)
    settings.MLFLOW_TRACKING_URI = "http://127.0.0.1:9"  # nothing listens
    sections, _ = _sections(login("lead_search"))
    models = sections["my-models"]
    assert models.error == ""
    mine = next(i for i in models.items if i.text == own_model.name)
    assert mine.detail == "@champion v1" and mine.url == f"/registry/models/{own_model.name}/"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_home_for_me_in_the_browser(browser_login, live_server, requests_made, shoot) -> None:
    own_model = requests_made[0]
    page = browser_login("lead_search")
    for width in (390, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(live_server.url + "/")
        badge = page.inner_text("#nav-badge-registry").strip()
        assert page.get_attribute("#my-decisions", "data-count") == badge == "1"
        assert page.locator("#my-requests .my-items li").count() == 1
        assert page_overflow(page) <= 0, width
        shoot(page, f"home-lead-{width}")
    page.click(f"#my-decisions a:has-text('{own_model.name} v2')")
    page.wait_for_url(f"**/registry/models/{own_model.name}/versions/2/")
    page.goto(live_server.url + "/")
    page.click("#my-decisions a.my-more")
    page.wait_for_url("**/registry/inbox/")

    page.context.clear_cookies()
    page = browser_login("outsider")
    for width in (390, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(live_server.url + "/")
        assert page.locator(".my-section .my-empty").count() == 5
        assert page_overflow(page) <= 0, width
        shoot(page, f"home-empty-{width}")
