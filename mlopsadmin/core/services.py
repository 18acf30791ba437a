"""Writes of the core: teams, memberships, roles, API tokens. Each writes one audit event and checks the
actor's permission through `mlopsadmin.policy` (an actor given as a "system:…" string is a trusted host
process: management commands, the demo seeder)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from mlopsadmin import policy
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import InvalidInput, NotFound
from mlopsadmin.core.models import TEAM_PREFIX_RE, ApiToken, Membership, Team, hash_token


def team_snapshot(team: Team) -> dict[str, Any]:
    return {
        "name": team.name,
        "display_name": team.display_name,
        "experiment_prefix": team.experiment_prefix,
        "model_name_pattern": team.model_name_pattern,
    }


def team_create_or_update(
    *, actor: Any, name: str, experiment_prefix: str, display_name: str = "", model_name_pattern: str = ""
) -> Team:
    policy.require_actor(actor, policy.Action.TEAM_MANAGE)
    if not TEAM_PREFIX_RE.match(experiment_prefix):
        raise InvalidInput(f"Experiment prefix {experiment_prefix!r} must look like '/search-team'.")
    with transaction.atomic():
        team = Team.objects.filter(name=name).first()
        before = team_snapshot(team) if team else None
        team = team or Team(name=name)
        team.experiment_prefix = experiment_prefix
        team.display_name = display_name or team.display_name
        team.model_name_pattern = model_name_pattern or team.model_name_pattern
        team.full_clean()
        team.save()
        after = team_snapshot(team)
        if before != after:
            audit_record(
                actor=actor,
                action="team.create" if before is None else "team.update",
                target_kind="team",
                target_id=team.name,
                team=team.name,
                before=before,
                after=after,
            )
    return team


def user_snapshot(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "email": user.email,
        "is_active": user.is_active,
        "roles": sorted(user.groups.values_list("name", flat=True)),
        "teams": sorted(user.memberships.values_list("team__name", flat=True)),
    }


def user_create_or_update(
    *,
    actor: Any,
    username: str,
    email: str = "",
    password: str | None = None,
    roles: list[str] | None = None,
    teams: list[str] | None = None,
) -> User:
    policy.require_actor(actor, policy.Action.TEAM_MANAGE)
    unknown_roles = set(roles or []) - set(policy.ALL_ROLES)
    if unknown_roles:
        raise InvalidInput(
            f"Unknown role(s): {', '.join(sorted(unknown_roles))}. Known: {', '.join(policy.ALL_ROLES)}."
        )
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        before = user_snapshot(user) if user else None
        if user is None:
            user = User(username=username)
        user.email = email or user.email
        if password:
            user.set_password(password)
        user.is_staff = policy.ROLE_ADMIN in (roles or []) or user.is_staff
        user.save()
        if roles is not None:
            user.groups.set([Group.objects.get_or_create(name=role)[0] for role in roles])
        if teams is not None:
            wanted = list(Team.objects.filter(name__in=teams))
            if len(wanted) != len(set(teams)):
                missing = set(teams) - {t.name for t in wanted}
                raise InvalidInput(f"Unknown team(s): {', '.join(sorted(missing))}.")
            user.memberships.exclude(team__in=wanted).delete()
            for team in wanted:
                Membership.objects.get_or_create(user=user, team=team)
        after = user_snapshot(user)
        if before != after or password:
            audit_record(
                actor=actor,
                action="user.create" if before is None else "user.update",
                target_kind="user",
                target_id=user.username,
                before=before,
                after={**after, "password_changed": bool(password)},
            )
    return user


MAX_TOKEN_DAYS = 3650


def api_token_create(
    *, actor: Any, user: User, name: str, expires_in_days: int | None = None, read_only: bool = False
) -> tuple[ApiToken, str]:
    """Returns the token and its raw value; the raw value is shown once and never stored.

    `expires_in_days`: None for a token that never expires, else 1..3650 (days from now). `read_only`: the
    token may only read; every non-GET API request with it is refused (mlopsadmin.api.auth.TokenAuth).
    Raises InvalidInput for a bad name or lifetime; PermissionDenied unless a person creates their own."""
    _require_own_tokens(actor, user)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("Give the token a name of 1 to 100 characters.")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise InvalidInput(f"A token lives 1 to {MAX_TOKEN_DAYS} days, or never expires.")
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    raw = ApiToken.new_raw_token()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            token_hash=hash_token(raw),
            hint=raw[:12],
            expires_at=expires_at,
            read_only=read_only,
        )
        audit_record(
            actor=actor,
            action="api_token.create",
            target_kind="user",
            target_id=user.username,
            after={
                "name": token.name,
                "hint": token.hint,
                "scope": token.scope,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return token, raw


def _require_own_tokens(actor: Any, user: User) -> None:
    policy.require_actor(actor, policy.Action.TOKEN_MANAGE_OWN)
    if not isinstance(actor, str) and actor.pk != user.pk:
        raise PermissionDenied("You can manage your own API tokens only.")


def api_token_revoke(*, actor: Any, user: User, token_id: int) -> ApiToken:
    """Revoke one of `user`'s tokens (idempotent); NotFound when the token is not theirs."""
    _require_own_tokens(actor, user)
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user=user).first()
        if token is None:
            raise NotFound("No such API token.")
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit_record(
                actor=actor,
                action="api_token.revoke",
                target_kind="user",
                target_id=user.username,
                before={"name": token.name, "active": True},
                after={"name": token.name, "active": False},
            )
    return token


def api_token_authenticate(raw: str) -> ApiToken | None:
    """The active (not revoked, not expired) token with this raw value whose user is active, else None."""
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(raw), revoked_at=None).first()
    if token is None or token.is_expired or not token.user.is_active:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token
