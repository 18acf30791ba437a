"""Reads of the core: which team owns an experiment or a registered model."""

from __future__ import annotations

import re

from django.db.models import Exists, F, OuterRef

from mlopsadmin.core.models import ModelOwnership, Team


def all_teams() -> list[Team]:
    return list(Team.objects.all())


def team_for_experiment_name(name: str, teams: list[Team] | None = None) -> Team | None:
    """The team whose prefix starts the name ('/search-team/x/y' → search). Longest prefix wins. Only the
    name half of the rule: owners of experiments are decided by `team_for_experiment`. A name that lacks
    only its leading '/' ('search-team/x/y') still names its team (the catalog flags it as leading_slash)."""
    name = name if name.startswith("/") else "/" + name
    matches = [
        t
        for t in (teams if teams is not None else all_teams())
        if (prefix := t.experiment_prefix.rstrip("/")) and (name == prefix or name.startswith(prefix + "/"))
    ]
    return max(matches, key=lambda t: len(t.experiment_prefix.rstrip("/")), default=None)


def team_for_tag(value: str, teams: list[Team] | None = None) -> Team | None:
    """The team a `team` tag written by hand names: its key in any case and with stray spaces ('Search',
    ' search '), or its experiment prefix with or without the slash ('search-team', '/search-team')."""
    wanted = (value or "").strip().strip("/").casefold()
    if not wanted:
        return None
    for team in teams if teams is not None else all_teams():
        if wanted in (team.name.casefold(), team.experiment_prefix.strip().strip("/").casefold()):
            return team
    return None


def team_for_experiment(name: str, teams: list[Team] | None = None, *, team_tag: str = "") -> Team | None:
    """THE rule for which team owns an experiment, used by the catalog, capacity, cleanup scope, the reaper
    and MLflow permissions: the longest team prefix that starts the name ('/search-team/x/y' → search); else
    `team_tag`, the dominant `team` tag of its runs, when it names a team (flat names like 'johns_experiment';
    any spelling `team_for_tag` reads). The catalog index keeps that tag: callers with many experiments use
    `catalog.selectors.experiment_teams`."""
    teams = teams if teams is not None else all_teams()
    return team_for_experiment_name(name, teams) or team_for_tag(team_tag, teams)


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
    and `patterns` (configuration.selectors.pattern_rules()) when resolving many names; without them, one
    query reads all three (issue 20)."""
    from configuration.selectors import pattern_owner, pattern_rules, rules_sorted

    if teams is None and ownership is None and patterns is None:
        rows = _owner_rows(model_name)
        owner = next((team for team, owns, _ in rows if owns), None)
        if owner is not None:
            return owner
        patterns = rules_sorted([(glob, team.pk) for team, _, glob in rows if glob])
        return team_for_model(model_name, list({team.pk: team for team, _, _ in rows}.values()), {}, patterns)
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


def _owner_rows(model_name: str) -> list[tuple[Team, bool, str | None]]:
    """(team, whether `model_name` is assigned to it explicitly, one glob pattern it owns or None when it has
    none) for every team in name order, once per pattern. One query."""
    explicit = ModelOwnership.objects.filter(team=OuterRef("pk"), model_name=model_name)
    rows = Team.objects.annotate(owns_model=Exists(explicit), glob=F("model_patterns__pattern"))
    return [(team, bool(team.owns_model), team.glob) for team in rows]


def model_ownership_map() -> dict[str, Team]:
    return {o.model_name: o.team for o in ModelOwnership.objects.select_related("team")}
