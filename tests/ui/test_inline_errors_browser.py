"""Issue 19 case 3 in Chromium: a refused form shows the reason inside the form, on the same page,
with what the user typed still in the inputs (reject without a comment, a reserved tag key, a
sign-off with open items), and the same for every other POST form (one rule in static/js/app.js)."""

from __future__ import annotations

import pytest

from registry_ui.approvals import services


def _same_page(page) -> None:  # type: ignore[no-untyped-def]
    page.evaluate("window.__marker = 'same-page'")


def _assert_same_page(page) -> None:  # type: ignore[no-untyped-def]
    assert page.evaluate("window.__marker") == "same-page"  # no navigation, no error page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_reject_without_comment_and_reserved_tag_key_show_inline(
    own_model, browser_login, live_server, personas
) -> None:
    services.approval_request_create(actor=personas["member_search"], model_name=own_model.name, version="2")
    page = browser_login("lead_search")
    page.goto(f"{live_server.url}/registry/models/{own_model.name}/versions/2/")
    _same_page(page)
    page.click("form.decide-form button[value=reject]")
    error = page.locator("form.decide-form .form-error")
    error.wait_for()
    assert "comment" in error.inner_text().lower()
    _assert_same_page(page)
    assert page.locator("form.decide-form button[value=approve]").is_visible()

    form = page.locator("form.add-tag")
    form.locator("input[name=key]").fill("approved_by")
    form.locator("input[name=value]").fill("me, myself")
    form.locator("button[type=submit]").click()
    form.locator(".form-error").wait_for()
    assert "approval workflow" in form.locator(".form-error").inner_text()
    assert form.locator("input[name=key]").input_value() == "approved_by"  # the input is kept
    assert form.locator("input[name=value]").input_value() == "me, myself"
    _assert_same_page(page)

    # a form that then succeeds leads to the next page as before, with its message
    form.locator("input[name=key]").fill("owner_note")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("text=Tag 'owner_note' saved to MLflow")
    assert page.locator("tr[data-tag=owner_note]").count() == 1


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_sign_off_with_open_items_shows_inline(browser_login, live_server, monthly) -> None:
    page = browser_login("operator")
    page.goto(f"{live_server.url}/checklists/{monthly.pk}/")
    _same_page(page)
    form = page.locator("#sign-off-form")
    form.locator("input[name=note]").fill("all good, I think")
    form.locator("button[type=submit]").click()
    form.locator(".form-error").wait_for()
    assert "not ticked yet" in form.locator(".form-error").inner_text()
    assert form.locator("input[name=note]").input_value() == "all good, I think"
    _assert_same_page(page)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_permission_withdrawn_while_the_form_was_open_is_said_inline(own_model, browser_login, live_server) -> None:
    """Break-test (stale form + permissions): the member's team membership is removed while the version page
    is open. Sending the request form answered a full-page "Not allowed" with only a Home link, the comment
    lost, and the address bar on the POST-only /request URL (reloading it: 405)."""
    from mlopsadmin.core.models import Membership

    page = browser_login("member_search")
    version_url = f"{live_server.url}/registry/models/{own_model.name}/versions/2/"
    page.goto(version_url)
    _same_page(page)
    page.fill("form.request-form textarea[name=comment], form textarea[name=comment]", "please review ü'\"<b>")
    Membership.objects.filter(user__username="member_search").delete()  # an admin removes them meanwhile
    page.click("button:has-text('Request approval')")
    error = page.locator("form .form-error")
    error.wait_for()
    assert "member of team" in error.inner_text()
    _assert_same_page(page)
    assert page.input_value("form textarea[name=comment]") == "please review ü'\"<b>"
    assert page.url == version_url  # the address is still the page's, so a reload shows it again


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_stale_alias_dialog_lands_on_the_aliases_page_at_its_own_address(
    make_model, browser_login, live_server
) -> None:
    """Break-test (stale form): the challenger dialog was confirmed after another lead had moved the aliases.
    The refusal showed the aliases page but left the address on the POST-only change URL (a reload: 405)."""
    from mlopsadmin.lib import mlflow_client as mlf
    from tests.promotion.conftest import open_challenger_dialog

    name = make_model([0.8, 0.81, 0.82], aliases={"champion": 1})
    page = browser_login("lead_search")
    page.goto(f"{live_server.url}/registry/models/{name}/")
    dialog = open_challenger_dialog(page, "2")
    mlf.set_model_alias(name, "challenger", "3")  # someone else, meanwhile
    dialog.locator("button[data-confirm=challenger]").click()
    page.wait_for_selector("text=changed since you looked")
    assert page.url == f"{live_server.url}/registry/models/{name}/aliases/"
    assert page.reload().status == 200
    assert mlf.get_registered_model(name).aliases == {"champion": "1", "challenger": "3"}  # nothing moved


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_refused_filter_is_said_in_its_form_not_dropped(browser_login, live_server) -> None:
    """Break-test: the audit filter (an htmx GET form) with 'until' before 'since' answered 400 with the
    reason addressed to the page, which htmx drops for a 4xx: the page went on showing every event under
    the filter the user had typed, with no word. The reason now shows in the filter form, inputs kept."""
    page = browser_login("auditor")
    page.goto(f"{live_server.url}/audit/")
    _same_page(page)
    page.fill("#audit-filters input[name=since]", "2030-01-01T00:00")
    page.fill("#audit-filters input[name=until]", "2020-01-01T00:00")
    page.click("#audit-filters button[type=submit]")
    error = page.locator("#audit-filters .form-error")
    error.wait_for()
    assert "until" in error.inner_text().lower() or "since" in error.inner_text().lower()
    assert page.input_value("#audit-filters input[name=since]") == "2030-01-01T00:00"
    _assert_same_page(page)
    page.fill("#audit-filters input[name=until]", "")
    page.click("#audit-filters button[type=submit]")
    error.wait_for(state="detached")  # a good filter clears the message
