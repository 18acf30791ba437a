"""Reads of the core: which team owns an experiment or a registered model."""

from __future__ import annotations

import re

from mlopsadmin.core.models import ModelOwnership, Team


def all_teams() -> list[Team]:
    return list(Team.objects.all())


def team_for_experiment_name(name: str, teams: list[Team] | None = None) -> Team | None:
    """The team whose prefix starts the name ('/search-team/x/y' → search). Longest prefix wins."""
    matches = [
        t
        for t in (teams if teams is not None else all_teams())
        if name == t.experiment_prefix or name.startswith(t.experiment_prefix + "/")
    ]
    return max(matches, key=lambda t: len(t.experiment_prefix), default=None)


def team_for_model(
    model_name: str, teams: list[Team] | None = None, ownership: dict[str, Team] | None = None
) -> Team | None:
    """Explicit assignment first, then the first team whose name rule matches."""
    if ownership is None:
        explicit = ModelOwnership.objects.select_related("team").filter(model_name=model_name).first()
        if explicit:
            return explicit.team
    elif model_name in ownership:
        return ownership[model_name]
    for team in teams if teams is not None else all_teams():
        if team.model_name_pattern:
            try:
                if re.search(team.model_name_pattern, model_name):
                    return team
            except re.error:
                continue
    return None


def model_ownership_map() -> dict[str, Team]:
    return {o.model_name: o.team for o in ModelOwnership.objects.select_related("team")}
