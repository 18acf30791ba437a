"""Events written by real actions show up on the audit pages with the right before/after.

Each case is (name, action performed through a page or service, expected event). To cover a new
feature's action, add a case: a callable taking (personas, login) that performs it, plus the
expected action / target / before / after (None means "not checked").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import reverse

from mlopsadmin.core.models import ApiToken
from mlopsadmin.core.services import team_create_or_update, user_create_or_update

pytestmark = pytest.mark.django_db


@dataclass
class Case:
    name: str
    perform: Callable[[dict, Any], None]
    action: str
    target_kind: str
    target_id: str
    actor: str
    before: Any = None
    after: Any = None
    team: str | None = None


def _token_create(personas: dict, login: Any) -> None:
    response = login("lead_search").post(reverse("tokens"), {"name": "ci-nightly"})
    assert response.status_code == 200


def _token_revoke(personas: dict, login: Any) -> None:
    client = login("lead_search")
    client.post(reverse("tokens"), {"name": "to-revoke"})
    token = ApiToken.objects.get(user=personas["lead_search"], name="to-revoke")
    assert client.post(reverse("token_revoke", args=[token.pk])).status_code == 302


def _team_update(personas: dict, login: Any) -> None:
    team_create_or_update(
        actor=personas["admin"], name="search", experiment_prefix="/search-team", display_name="Search & Ranking"
    )


def _team_create(personas: dict, login: Any) -> None:
    team_create_or_update(
        actor=personas["admin"], name="vision", experiment_prefix="/vision-team", display_name="Vision"
    )


def _user_roles(personas: dict, login: Any) -> None:
    user_create_or_update(
        actor=personas["admin"], username="member_search", roles=["Operator"], teams=["search", "fraud"]
    )


CASES = [
    Case(
        "api token created on the tokens page",
        _token_create,
        "api_token.create",
        "user",
        "lead_search",
        "lead_search",
        before=None,
        after={"name": "ci-nightly", "hint": ...},
    ),
    Case(
        "api token revoked on the tokens page",
        _token_revoke,
        "api_token.revoke",
        "user",
        "lead_search",
        "lead_search",
        before={"name": "to-revoke", "active": True},
        after={"name": "to-revoke", "active": False},
    ),
    Case(
        "team renamed",
        _team_update,
        "team.update",
        "team",
        "search",
        "admin",
        before={"display_name": ...},
        after={"display_name": "Search & Ranking"},
        team="search",
    ),
    Case(
        "team created",
        _team_create,
        "team.create",
        "team",
        "vision",
        "admin",
        before=None,
        after={"name": "vision", "experiment_prefix": "/vision-team"},
        team="vision",
    ),
    Case(
        "user given a role and a team",
        _user_roles,
        "user.update",
        "user",
        "member_search",
        "admin",
        before={"roles": [], "teams": ["search"]},
        after={"roles": ["Operator"], "teams": ["fraud", "search"], "password_changed": False},
    ),
]


def _matches(expected: Any, actual: Any) -> bool:
    """`expected` is a subset of `actual`; Ellipsis means "present, any value"."""
    if expected is None:
        return actual is None
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and (value is ... or _matches(value, actual[key])) for key, value in expected.items()
        )
    return expected == actual


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_real_action_appears_with_before_and_after(case: Case, personas, login) -> None:  # type: ignore[no-untyped-def]
    case.perform(personas, login)
    client = login("auditor")
    listing = client.get(
        reverse("audit:index"), {"action": case.action, "target_kind": case.target_kind, "target_id": case.target_id}
    )
    events = listing.context["page"].events
    assert events, f"no {case.action} event for {case.target_kind}:{case.target_id}"
    event = events[0]
    assert event.actor_name == case.actor
    assert _matches(case.before, event.before), event.before
    assert _matches(case.after, event.after), event.after
    if case.team is not None:
        assert event.team == case.team
    assert event.request_id or case.perform not in (_token_create, _token_revoke)  # web actions carry one
    # The event page shows the same difference, and the target's history contains the event.
    page = client.get(reverse("audit:event", args=[event.id]))
    changed = {line.path for line in page.context["diff"] if line.change != "same"}
    for path in case.after or {}:
        if isinstance(case.after[path], str) and (case.before or {}).get(path) != case.after[path]:
            assert path in changed
    history = client.get(reverse("audit:history", args=[case.target_kind, case.target_id]))
    assert event.id in [e.id for e in history.context["events"]]


def test_token_secret_never_reaches_the_audit_log(personas, login) -> None:  # type: ignore[no-untyped-def]
    raw = login("lead_search").post(reverse("tokens"), {"name": "secret-check"}).context["new_token"]
    export = login("auditor").get(reverse("audit:export_jsonl"))
    assert raw not in b"".join(export.streaming_content).decode()
