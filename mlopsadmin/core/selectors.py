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
    model_name: str,
    teams: list[Team] | None = None,
    ownership: dict[str, Team] | None = None,
    patterns: list[tuple[str, int]] | None = None,
) -> Team | None:
    """The team owning a registered model. Precedence (docs/configuration.md): an explicit assignment
    (core.ModelOwnership) first; then the most specific matching glob pattern (configuration.ModelPattern:
    most literal characters wins; ties are refused when the configuration is applied); last, a team's
    legacy regular expression (Team.model_name_pattern, teams in name order). Pass `teams`, `ownership`
    and `patterns` (configuration.selectors.pattern_rules()) when resolving many names."""
    from configuration.selectors import pattern_owner, pattern_rules

    if ownership is None:
        explicit = ModelOwnership.objects.select_related("team").filter(model_name=model_name).first()
        if explicit:
            return explicit.team
    elif model_name in ownership:
        return ownership[model_name]
    team_id = pattern_owner(model_name, patterns if patterns is not None else pattern_rules())
    if team_id is not None:
        found = next((t for t in teams or [] if t.pk == team_id), None)
        return found or Team.objects.filter(pk=team_id).first()
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
