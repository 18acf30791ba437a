"""Issue 19, cases 2, 4, 5: a page offers an action only to people policy.py lets use it, and only
when it can work; the model page's Version dropdown lists the versions; the aliases page shows the
aliases once with "as of HH:MM UTC" and a breadcrumb; the approval badge counts only requests the
user can decide, links to the inbox, and admins get it."""

from __future__ import annotations

import re

import pytest

from registry_ui.approvals import services

pytestmark = pytest.mark.django_db


def _text(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", response.content.decode())


def _panel(page: str) -> str:
    return re.search(r'<section class="card promotion-panel".*?</section>', page).group(0)


@pytest.mark.parametrize("username", ["outsider", "auditor", "operator", "lead_fraud"])
def test_people_who_may_not_move_aliases_see_no_alias_buttons(make_model, login, username) -> None:
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    client = login(username)
    for url in (f"/registry/models/{name}/", f"/registry/models/{name}/aliases/"):
        panel = _panel(_text(client.get(url)))
        for action in ("promote", "rollback", "challenger", "promote-version"):
            assert f'data-action="{action}"' not in panel, (username, url, action)
        assert "<select" not in panel
    # and the dialog, if its URL is opened anyway, refuses before the confirm button
    dialog = _text(client.get(f"/registry/models/{name}/aliases/confirm/promote/"))
    assert "data-confirm" not in dialog and "Only an ML lead of team" in dialog


def test_member_may_make_a_challenger_but_not_promote(make_model, login) -> None:
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    panel = _panel(_text(login("member_search").get(f"/registry/models/{name}/")))
    assert 'data-action="challenger"' in panel
    assert 'data-action="promote"' not in panel and 'data-action="rollback"' not in panel
    assert 'data-action="promote-version"' not in panel


def test_buttons_that_cannot_work_are_disabled_with_the_reason(make_model, login) -> None:
    name = make_model([0.85, 0.86], aliases={"champion": 1})  # no challenger, no previous champion
    panel = _panel(_text(login("lead_search").get(f"/registry/models/{name}/")))
    assert re.search(r'<button type="button" class="primary" disabled data-action="promote"', panel)
    assert re.search(r'<button type="button" class="danger" disabled data-action="rollback"', panel)
    assert "There is no @challenger to promote" in panel and "no @previous-champion" in panel
    assert 'hx-get="/registry/models/' + name + '/aliases/confirm/promote/"' not in panel.split("<form")[0]

    name2 = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2})
    panel = _panel(_text(login("lead_search").get(f"/registry/models/{name2}/")))
    assert '<a class="button primary"' in panel and 'data-action="promote"' in panel  # enabled: a link
    assert 'disabled data-action="promote"' not in panel


def test_model_page_version_dropdown_lists_every_version(make_model, login) -> None:
    name = make_model([0.8, 0.81, 0.82], aliases={"champion": 2})
    panel = _panel(_text(login("lead_search").get(f"/registry/models/{name}/")))
    assert re.findall(r'<option value="(\d+)"', panel) == ["3", "2", "1"]
    assert "v2 (@champion)" in panel


def test_aliases_page_shows_aliases_once_as_of_time_and_breadcrumb(make_model, login) -> None:
    name = make_model([0.8, 0.81], aliases={"champion": 1, "challenger": 2})
    page = _text(login("lead_search").get(f"/registry/models/{name}/aliases/"))
    assert page.count("@challenger → v2") == 0 and page.count('data-alias="challenger"') == 1
    assert re.search(r"As of \d\d:\d\d UTC", page) and "State seen" not in page
    crumb = re.search(r'<p class="muted breadcrumb">(.*?)</p>', page).group(1)
    assert 'href="/registry/"' in crumb and f'href="/registry/models/{name}/"' in crumb


def _badge(client) -> str | None:  # type: ignore[no-untyped-def]
    page = client.get("/").content.decode()
    found = re.search(r'<a class="badge" href="([^"]+)"[^>]*id="nav-badge-registry">\s*(\d+)\s*<', page)
    return f"{found.group(2)} {found.group(1)}" if found else None


def test_approval_badge_counts_what_you_can_decide_and_links_to_the_inbox(own_model, login, personas) -> None:
    services.approval_request_create(actor=personas["lead_search"], model_name=own_model.name, version="2")
    assert _badge(login("lead_search")) is None  # your own request is not waiting for you
    assert _badge(login("admin")) == "1 /registry/inbox/"  # admins decide every team's requests
    assert _badge(login("lead_fraud")) is None and _badge(login("auditor")) is None
    services.approval_request_create(actor=personas["member_search"], model_name=own_model.name, version="1")
    assert _badge(login("lead_search")) == "1 /registry/inbox/"
    assert _badge(login("admin")) == "2 /registry/inbox/"


def test_auditor_sees_the_conventions_as_text_not_inputs(login) -> None:
    for url in ("/registry/settings/", "/catalog/convention/"):
        page = _text(login("auditor").get(url))
        main = page.split("<main>", 1)[1]
        assert not re.search(r"<(input|textarea|select)(?![^>]*type=\"hidden\")", main), url
        assert "<button" not in main.replace('<button type="submit" class="link">Log out</button>', ""), url
