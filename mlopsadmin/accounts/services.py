"""Sign-in writes: the user of an identity-provider subject, and the roles and teams its groups give.

Called by the OIDC backend at every sign-in. The provider's groups are authoritative for users who sign in
through it: roles and team memberships are set to exactly what OIDC_GROUP_MAP gives, and every change is one
`user.idp_sync` audit event (a new user is one `user.create` event).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from mlopsadmin import policy
from mlopsadmin.accounts.groupmap import grants_for, parse_group_map
from mlopsadmin.accounts.models import ExternalIdentity
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.core.models import Membership, Team
from mlopsadmin.core.services import user_snapshot

logger = logging.getLogger("mlopsadmin.accounts")
USERNAME_RE = re.compile(r"[^\w.@+-]")


class SignInRefused(InvalidInput):
    """The provider vouched for someone mlopsadmin will not sign in (the message says why)."""


def claim_groups(claims: dict[str, Any]) -> list[str]:
    """The groups claim (OIDC_GROUPS_CLAIM) as a list of strings; a single string counts as one group."""
    value = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(value, str):
        value = [value]
    return sorted({str(group) for group in value if isinstance(group, str | int)})


def username_from_claims(claims: dict[str, Any]) -> str:
    """OIDC_USERNAME_CLAIM, else the e-mail's local part, else the subject; cut to Django's 150 characters."""
    raw = str(claims.get(settings.OIDC_USERNAME_CLAIM) or "")
    if not raw and claims.get("email"):
        raw = str(claims["email"]).split("@", 1)[0]
    raw = raw or str(claims.get("sub", ""))
    return USERNAME_RE.sub("_", raw)[:150]


def _is_break_glass(user: User) -> bool:
    return user.is_superuser or user.has_usable_password()


def sign_in(*, issuer: str, claims: dict[str, Any]) -> User:
    """The user for this (issuer, sub), created on first sign-in, with roles/teams re-applied from its groups.

    `claims`: the userinfo claims (a dict with at least "sub"). Raises SignInRefused when the subject is
    missing, the account is deactivated, or the username is taken by a local account (never taken over).
    """
    subject = str(claims.get("sub") or "")
    if not subject:
        raise SignInRefused("The identity provider sent no subject ('sub').")
    groups = claim_groups(claims)
    mapping = parse_group_map(settings.OIDC_GROUP_MAP)  # checked at start-up (mlopsadmin.E102)
    roles, team_keys = grants_for(groups, mapping)
    with transaction.atomic():
        identity = (
            ExternalIdentity.objects.select_for_update()
            .select_related("user")
            .filter(issuer=issuer, subject=subject)
            .first()
        )
        if identity is None:
            username = username_from_claims(claims)
            existing = User.objects.filter(username=username).first()
            if existing is not None:
                raise SignInRefused(
                    f"A local account named {username!r} already exists; an admin must remove or rename it "
                    "before this person can sign in with the company account."
                )
            user = User(username=username, email=str(claims.get("email") or ""))
            user.set_unusable_password()
            user.save()
            identity = ExternalIdentity.objects.create(user=user, issuer=issuer, subject=subject, groups=groups)
            before = None
        else:
            user = identity.user
            if not user.is_active:
                raise SignInRefused("This account is deactivated in mlopsadmin.")
            before = user_snapshot(user)
            identity.groups = groups
            identity.last_sign_in_at = timezone.now()
            identity.save(update_fields=["groups", "last_sign_in_at"])
            if claims.get("email") and claims["email"] != user.email:
                user.email = str(claims["email"])
                user.save(update_fields=["email"])
        unknown_teams = _apply_roles_and_teams(user, roles, team_keys)
        after = user_snapshot(user)
        if before != after:
            audit_record(
                actor=user,
                action="user.create" if before is None else "user.idp_sync",
                target_kind="user",
                target_id=user.username,
                before=before,
                after={**after, "idp_groups": groups, "via": "oidc"},
                reason="roles and teams from the identity provider's groups at sign-in"
                + (f"; unknown team(s) ignored: {', '.join(sorted(unknown_teams))}" if unknown_teams else ""),
            )
    if unknown_teams:
        logger.warning("OIDC_GROUP_MAP names unknown team(s): %s", ", ".join(sorted(unknown_teams)))
    return user


def _apply_roles_and_teams(user: User, roles: set[str], team_keys: set[str]) -> set[str]:
    """Set the user's roles and memberships to exactly these; returns the team keys that do not exist."""
    user.groups.set([Group.objects.get_or_create(name=role)[0] for role in sorted(roles)])
    teams = list(Team.objects.filter(name__in=team_keys))
    user.memberships.exclude(team__in=teams).delete()
    for team in teams:
        Membership.objects.get_or_create(user=user, team=team)
    is_staff = policy.ROLE_ADMIN in roles
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])
    for cache in ("_policy_roles", "_policy_edit_teams", "_policy_member_teams"):
        user.__dict__.pop(cache, None)
    return team_keys - {team.name for team in teams}


def local_login_allowed(user: User) -> bool:
    """LOCAL_LOGIN: may this user sign in with a password? all: anyone; admins: superusers and the Admin role
    (the break-glass account); off: nobody."""
    mode = settings.LOCAL_LOGIN
    if mode == "all":
        return True
    if mode == "admins":
        return user.is_superuser or user.groups.filter(name=policy.ROLE_ADMIN).exists()
    return False
