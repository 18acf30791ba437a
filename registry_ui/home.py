"""The registry's "for you" sections of the home page (mlopsadmin.core.dashboard): my pending approval
requests, requests waiting for my decision (the count is the nav badge's), my teams' models and their
@champion."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.timesince import timesince

from configuration.selectors import pattern_rules
from mlopsadmin import policy
from mlopsadmin.core.dashboard import MY_ITEMS, MyItem, MySection
from mlopsadmin.core.models import Team
from mlopsadmin.core.selectors import all_teams, model_ownership_map, team_for_model
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import index_read
from registry_ui.approvals import selectors as approvals
from registry_ui.models import IndexedModel


def my_registry_sections(user: Any) -> list[MySection]:
    """The three registry sections for `user` (a signed-in User)."""
    return [my_pending_requests(user), waiting_for_my_decision(user), my_team_models(user)]


def _version_url(model_name: str, version: str) -> str:
    return reverse("registry:version", args=[model_name, version])


def my_pending_requests(user: Any) -> MySection:
    """Approval requests the user made that nobody has decided yet, newest first."""
    requests, count = approvals.pending_requests_by(user, limit=MY_ITEMS)
    items = [
        MyItem(
            text=f"{r.model_name} v{r.version}",
            url=_version_url(r.model_name, r.version),
            detail=f"requested {timesince(r.created_at)} ago; waiting for an ML lead"
            + (f" of team {r.team}" if r.team else ""),
        )
        for r in requests
    ]
    return MySection(
        key="my-requests",
        title="Your pending requests",
        items=items,
        count=count,
        empty="You have no approval requests waiting for a decision.",
        order=10,
    )


def waiting_for_my_decision(user: Any) -> MySection:
    """Pending requests the user may decide (four-eyes: never their own); `count` equals the nav badge."""
    requests = approvals.waiting_for_decision(user, limit=MY_ITEMS)
    decides = bool(policy.led_team_ids(user)) or policy.is_admin(user)
    items = [
        MyItem(
            text=f"{r.model_name} v{r.version}",
            url=_version_url(r.model_name, r.version),
            detail=f"requested by {r.requester} {timesince(r.created_at)} ago",
            level="warning",
        )
        for r in requests
    ]
    return MySection(
        key="my-decisions",
        title="Waiting for your decision",
        items=items,
        count=approvals.inbox_count(user),
        empty="Nothing is waiting for your decision."
        if decides and not policy.is_auditor(user)
        else "Only ML leads of the owning team (and admins) decide approval requests.",
        more_url=reverse("registry:inbox"),
        more_label="approval inbox",
        order=20,
    )


def my_team_models(user: Any) -> MySection:
    """Registered models owned by the user's teams, most recently changed first, each with its @champion
    (or that it has none), from the registry index (as fresh as the registry page: 'as of' its last sync)."""
    teams = list(Team.objects.filter(pk__in=policy.member_team_ids(user)).order_by("name"))
    section = MySection(
        key="my-models",
        title="Your team's models" if len(teams) <= 1 else "Your teams' models",
        items=[],
        count=0,
        empty="You are not a member of any team." if not teams else "Your team owns no registered model yet.",
        order=30,
    )
    if not teams:
        return section
    if len(teams) == 1:
        section.more_url = f"{reverse('registry:index')}?team={teams[0].name}"
        section.more_label = f"team {teams[0].name} in the registry"
    mine = {t.pk for t in teams}
    everyone, ownership, patterns = all_teams(), model_ownership_map(), pattern_rules()
    try:
        index_read.ensure_listed()  # the registry index, as the registry pages read it; MLflow only the first time
    except mlf.MlflowError as exc:
        section.error = f"MLflow did not answer: {exc}"[:200]
        return section
    owned = [
        m
        for m in IndexedModel.objects.only("name", "aliases", "last_updated_timestamp")
        if (owner := team_for_model(m.name, everyone, ownership, patterns)) and owner.pk in mine
    ]
    owned.sort(key=lambda m: (-(m.last_updated_timestamp or 0), m.name.lower()))  # recently changed first
    section.count = len(owned)
    for model in owned[:MY_ITEMS]:
        champion = (model.aliases or {}).get("champion")
        section.items.append(
            MyItem(
                text=model.name,
                url=reverse("registry:model", args=[model.name]),
                detail=f"@champion v{champion}" if champion else "no @champion",
                level="" if champion else "warning",
            )
        )
    return section
