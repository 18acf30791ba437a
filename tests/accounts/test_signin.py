"""Company sign-in at the HTTP level against the real provider process (fast: no browser), local passwords
under LOCAL_LOGIN, the group map and the start-up checks."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
import requests
from django.contrib.auth.models import User
from django.core import checks
from django.core.management import call_command
from django.test import Client

from mlopsadmin.accounts.groupmap import Grant, GroupMapError, grants_for, parse_group_map
from mlopsadmin.core.models import AuditEvent


def _provider_redirect(client: Client, sub: str) -> str:
    """Start the sign-in here, let the provider authorize `sub`; returns the callback path + query."""
    start = client.get("/oidc/authenticate/")
    assert start.status_code == 302
    answer = requests.post(start["Location"], data={"sub": sub}, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    callback = urlparse(answer.headers["Location"])
    return f"{callback.path}?{callback.query}"


@pytest.mark.django_db
def test_first_sign_in_creates_the_user_and_a_second_reuses_it(personas, company_sign_in) -> None:  # type: ignore[no-untyped-def]
    company_sign_in.set_user("sub-kim", email="kim@example.test", preferred_username="kim", groups=["ds-fraud"])
    client = Client()
    response = client.get(_provider_redirect(client, "sub-kim"))
    assert response.status_code == 302 and response["Location"] == "/"
    kim = User.objects.get(username="kim")
    assert list(kim.memberships.values_list("team__name", flat=True)) == ["fraud"]
    assert list(kim.groups.all()) == []
    again = Client()
    again.get(_provider_redirect(again, "sub-kim"))
    assert User.objects.filter(email="kim@example.test").count() == 1
    assert not AuditEvent.objects.filter(action="user.idp_sync").exists()  # nothing changed: nothing audited


@pytest.mark.django_db
def test_a_callback_with_a_foreign_state_signs_nobody_in(personas, company_sign_in) -> None:  # type: ignore[no-untyped-def]
    company_sign_in.set_user("sub-eve", email="eve@example.test", preferred_username="eve", groups=["mlops-admins"])
    attacker = Client()
    callback = _provider_redirect(attacker, "sub-eve")
    victim = Client()
    victim.get("/oidc/authenticate/")  # the victim has a sign-in of its own under way, with another state
    response = victim.get(callback, follow=True)
    assert response.status_code == 200 and "does not belong to a sign-in started here" in response.content.decode()
    assert not User.objects.filter(username="eve").exists()
    assert "_auth_user_id" not in victim.session


@pytest.mark.django_db
def test_a_local_account_is_never_taken_over(personas, company_sign_in) -> None:  # type: ignore[no-untyped-def]
    company_sign_in.set_user("sub-x", email="x@example.test", preferred_username="admin", groups=["mlops-admins"])
    client = Client()
    response = client.get(_provider_redirect(client, "sub-x"), follow=True)
    assert "A local account named &#x27;admin&#x27; already exists" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login_page_shows_the_company_button_only_when_configured(company_sign_in, settings) -> None:  # type: ignore[no-untyped-def]
    page = Client().get("/accounts/login/").content.decode()
    assert "Sign in with Test IdP" in page
    settings.OIDC_RP_CLIENT_ID = ""
    assert "Sign in with" not in Client().get("/accounts/login/").content.decode()
    assert Client().get("/oidc/authenticate/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mode", "member_ok", "admin_ok"), [("all", True, True), ("admins", False, True), ("off", False, False)]
)
def test_local_login_modes(personas, demo_password, settings, mode, member_ok, admin_ok) -> None:  # type: ignore[no-untyped-def]
    settings.LOCAL_LOGIN = mode
    for username, ok in (("member_search", member_ok), ("admin", admin_ok)):
        client = Client()
        response = client.post("/accounts/login/", {"username": username, "password": demo_password})
        assert ("_auth_user_id" in client.session) is ok, (mode, username)
        if not ok:
            assert "Password sign-in is" in response.content.decode()


def test_group_map_both_spellings() -> None:
    listed = parse_group_map("ml-search=ML lead:search; ops=operator, ds=:fraud\nds=member:search")
    as_json = parse_group_map('{"ml-search": "ML lead:search", "ops": ["Operator"], "ds": [":fraud", "member:search"]}')
    assert listed == as_json
    assert listed["ds"] == [Grant("", "fraud"), Grant("", "search")]
    assert grants_for(["ml-search", "ds", "unmapped"], listed) == ({"ML lead"}, {"search", "fraud"})
    for bad in ("ops=Superuser", "ops", "ops=", '{"ops": 3}', "{not json"):
        with pytest.raises(GroupMapError):
            parse_group_map(bad)


def test_start_up_checks_name_wrong_settings(settings) -> None:  # type: ignore[no-untyped-def]
    settings.LOCAL_LOGIN = "sometimes"
    settings.OIDC_GROUP_MAP = "ops=Superuser"
    settings.OIDC_RP_CLIENT_ID = "x"
    settings.OIDC_RP_CLIENT_SECRET = ""
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = "not a url"
    settings.MLFLOW_PERMISSIONS_TEAM_MODELS = "OWNER"
    ids = {message.id for message in checks.run_checks()}
    assert {"mlopsadmin.E101", "mlopsadmin.E102", "mlopsadmin.E104", "mlopsadmin.E105", "mlopsadmin.E109"} <= ids
    settings.OIDC_RP_CLIENT_ID = ""
    settings.LOCAL_LOGIN = "off"
    assert "mlopsadmin.E103" in {message.id for message in checks.run_checks()}


def test_oidc_discover_prints_the_endpoints(oidc_provider, capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("oidc_discover", oidc_provider.url)
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("export OIDC_OP_TOKEN_ENDPOINT=") for line in lines)
    assert any(line.startswith("export OIDC_OP_END_SESSION_ENDPOINT=") for line in lines)


def test_the_client_secret_is_scrubbed_from_logs_and_errors(settings) -> None:  # type: ignore[no-untyped-def]
    from mlopsadmin.lib.redaction import scrub

    settings.OIDC_RP_CLIENT_SECRET = "distinctive-oidc-client-secret-7f2e"
    assert "distinctive-oidc-client-secret-7f2e" not in scrub("token request with distinctive-oidc-client-secret-7f2e")


@pytest.mark.django_db
def test_provider_unreachable_at_the_token_step_is_a_clear_message(personas, company_sign_in, settings) -> None:  # type: ignore[no-untyped-def]
    from mlopsadmin.lib.mlflow_server import free_port

    company_sign_in.set_user("sub-dan", email="dan@example.test", preferred_username="dan", groups=[])
    client = Client()
    callback = _provider_redirect(client, "sub-dan")
    settings.OIDC_OP_TOKEN_ENDPOINT = f"http://127.0.0.1:{free_port()}/oauth2/token"
    response = client.get(callback, follow=True)
    assert response.status_code == 200 and "could not be reached" in response.content.decode()
    assert not User.objects.filter(username="dan").exists()


@pytest.mark.django_db
def test_a_deactivated_user_cannot_sign_in_again(personas, company_sign_in) -> None:  # type: ignore[no-untyped-def]
    company_sign_in.set_user("sub-liz", email="liz@example.test", preferred_username="liz", groups=["ds-fraud"])
    client = Client()
    client.get(_provider_redirect(client, "sub-liz"))
    User.objects.filter(username="liz").update(is_active=False)
    again = Client()
    response = again.get(_provider_redirect(again, "sub-liz"), follow=True)
    assert "deactivated" in response.content.decode() and "_auth_user_id" not in again.session


@pytest.mark.django_db
@pytest.mark.parametrize("verifier", [None, "x" * 64])
def test_the_provider_refuses_a_code_without_the_matching_pkce_verifier(personas, company_sign_in, verifier) -> None:  # type: ignore[no-untyped-def]
    company_sign_in.set_user("sub-pat", email="pat@example.test", preferred_username="pat", groups=["mlops-admins"])
    client = Client()
    callback = _provider_redirect(client, "sub-pat")
    session = client.session
    for state in session["oidc_states"].values():
        state["code_verifier"] = verifier  # as if the code had been stolen and replayed without the verifier
    session.save()
    response = client.get(callback, follow=True)
    assert "refused to complete the sign-in (HTTP 400)" in response.content.decode()
    assert not User.objects.filter(username="pat").exists() and "_auth_user_id" not in client.session
