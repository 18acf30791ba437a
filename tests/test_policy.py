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
