"""The policy module: roles × team scope, the auditor's read-only rule."""

from __future__ import annotations

import pytest

from mlopsadmin import policy
from mlopsadmin.core.models import Team

A = policy.Action


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "action", "team", "allowed"),
    [
        ("lead_search", A.ALIAS_PROTECTED, "search", True),
        ("lead_search", A.ALIAS_PROTECTED, "fraud", False),
        ("member_search", A.ALIAS_PROTECTED, "search", False),
        ("member_search", A.ALIAS_CHALLENGER, "search", True),
        ("member_search", A.ALIAS_CHALLENGER, "fraud", False),
        ("outsider", A.APPROVAL_REQUEST, "search", False),
        ("admin", A.ALIAS_PROTECTED, "fraud", True),
        ("auditor", A.VIEW, None, True),
        ("auditor", A.AUDIT_VIEW, None, True),
        ("auditor", A.MAINTENANCE_RUN, None, False),
        ("auditor", A.TOKEN_MANAGE_OWN, None, False),
        ("operator", A.MAINTENANCE_RUN, None, True),
        ("operator", A.ALIAS_PROTECTED, "search", False),
        ("lead_fraud", A.APPROVAL_DECIDE, "fraud", True),
        ("lead_fraud", A.CONVENTION_EDIT, None, False),
        ("member_search", A.AUDIT_VIEW, None, False),
        ("auditor", A.COMPARE, None, True),  # comparing versions or runs is reading
        ("outsider", A.COMPARE, None, True),
        ("operator", A.CLEANUP_RESTORE, None, True),  # who may run cleanup may restore what it deleted
        ("admin", A.CLEANUP_RESTORE, None, True),
        ("lead_search", A.CLEANUP_RESTORE, None, False),
        ("auditor", A.CLEANUP_RESTORE, None, False),
    ],
)
def test_policy_matrix(personas: dict, username: str, action: policy.Action, team: str | None, allowed: bool) -> None:
    target = Team.objects.get(name=team) if team else None
    assert policy.can(personas[username], action, team=target) is allowed


@pytest.mark.django_db
def test_auditor_stays_read_only_even_with_admin_role(personas: dict) -> None:
    from django.contrib.auth.models import Group

    auditor = personas["auditor"]
    auditor.groups.add(Group.objects.get(name=policy.ROLE_ADMIN))
    auditor = type(auditor).objects.get(pk=auditor.pk)
    assert not policy.can(auditor, A.TEAM_MANAGE)
    assert policy.can(auditor, A.AUDIT_VIEW)


def test_anonymous_may_do_nothing() -> None:
    from django.contrib.auth.models import AnonymousUser

    assert not policy.can(AnonymousUser(), A.VIEW)


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["lead_search", "member_fraud", "auditor", "outsider", "admin"])
def test_roles_and_team_memberships_are_read_in_one_query(personas: dict, username: str) -> None:
    """A permission check needs the user's roles and teams: one query for both (issue 20: a promotion and every
    page read them in two), the same answers as reading each alone."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from mlopsadmin.core.models import Membership

    user = User.objects.get(username=username)
    with CaptureQueriesContext(connection) as queries:
        roles, members, edits = policy.role_names(user), policy.member_team_ids(user), policy.editable_team_ids(user)
    assert len(queries.captured_queries) == 1, [q["sql"][:100] for q in queries.captured_queries]
    admin = {policy.ROLE_ADMIN} if user.is_superuser else set()
    assert roles == set(user.groups.values_list("name", flat=True)) | admin
    assert members == set(Membership.objects.filter(user=user).values_list("team_id", flat=True))
    assert edits == set(Membership.objects.filter(user=user, can_edit=True).values_list("team_id", flat=True))
