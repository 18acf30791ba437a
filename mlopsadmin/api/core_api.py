"""Core API endpoints: who am I, and the teams."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from mlopsadmin import policy
from mlopsadmin.core.htmx import AuthenticatedHttpRequest
from mlopsadmin.core.models import Team

router = Router(tags=["core"])


class MeOut(Schema):
    username: str
    roles: list[str]
    teams: list[str]


class TeamOut(Schema):
    name: str
    display_name: str
    experiment_prefix: str
    model_name_pattern: str


@router.get("/me", response=MeOut, summary="The authenticated user, roles and teams")
def me(request: AuthenticatedHttpRequest) -> MeOut:
    user = request.user
    return MeOut(
        username=user.get_username(),
        roles=sorted(policy.role_names(user)),
        teams=sorted(user.memberships.values_list("team__name", flat=True)),
    )


@router.get("/teams", response=list[TeamOut], summary="All teams")
def teams(request: HttpRequest) -> list[Team]:
    return list(Team.objects.all())
