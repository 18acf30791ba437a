"""The whole company sign-in in a real browser against a real OpenID provider process: first sign-in creates
the user with the roles its groups give, sign-out goes through the provider's end-session endpoint, and a
second sign-in with other groups re-applies them (audited)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth.models import User

from mlopsadmin import policy
from mlopsadmin.core.models import AuditEvent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in_at_provider(page, live_server, sub: str) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/accounts/login/")
    with page.expect_request(lambda request: "/oauth2/authorize" in request.url) as authorize:
        page.click("#company-sign-in")
    page.wait_for_selector("input[name=sub]")
    page.fill("input[name=sub]", sub)
    page.click("button:has-text('Authorize')")
    page.wait_for_selector("nav.mainnav")
    return parse_qs(urlparse(authorize.value.url).query)


def test_company_sign_in_roles_from_groups_and_sign_out(page, live_server, personas, company_sign_in) -> None:  # type: ignore[no-untyped-def]
    company_sign_in.set_user(
        "sub-jane-0001", email="jane@example.test", preferred_username="jane", groups=["ml-search-leads", "other"]
    )
    params = _sign_in_at_provider(page, live_server, "sub-jane-0001")
    # the authorization request: code flow with state, nonce and an S256 PKCE challenge
    assert params["response_type"] == ["code"]
    assert params["code_challenge_method"] == ["S256"] and len(params["code_challenge"][0]) >= 43
    assert params["state"][0] and params["nonce"][0]

    assert page.inner_text(".userbox .who") == "jane · ML lead"
    jane = User.objects.get(username="jane")
    assert not jane.has_usable_password()
    assert policy.led_team_ids(jane) == {personas["lead_search"].memberships.get().team_id}
    created = AuditEvent.objects.get(action="user.create", target_id="jane")
    assert created.after["roles"] == ["ML lead"] and created.after["teams"] == ["search"]

    # sign out: local session ended, then the provider's end-session endpoint with the ID token as hint
    with page.expect_request(lambda request: "/oauth2/end_session" in request.url) as end_session:
        page.click("text=Log out")
    assert parse_qs(urlparse(end_session.value.url).query)["id_token_hint"][0].count(".") == 2
    page.click("button:has-text('End session')")
    page.wait_for_url("**/accounts/login/")
    page.goto(f"{live_server.url}/registry/")
    assert "/accounts/login/" in page.url

    # the provider now says jane moved to the auditors: the next sign-in re-applies roles and teams
    company_sign_in.set_user(
        "sub-jane-0001", email="jane@example.test", preferred_username="jane", groups=["mlops-auditors"]
    )
    _sign_in_at_provider(page, live_server, "sub-jane-0001")
    assert page.inner_text(".userbox .who") == "jane · Auditor"
    synced = AuditEvent.objects.get(action="user.idp_sync", target_id="jane")
    assert synced.before["roles"] == ["ML lead"] and synced.after["roles"] == ["Auditor"]
    assert synced.after["teams"] == [] and synced.after["idp_groups"] == ["mlops-auditors"]
    assert User.objects.filter(username="jane").count() == 1
