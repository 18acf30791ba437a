"""Which aliases move for each action: pure functions of the live alias state (no I/O), so the
confirmation dialog shows exactly what the service will then do."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from mlopsadmin.core.errors import InvalidInput, RuleViolation

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS = "previous-champion"
ROLLED_BACK = "rolled-back"
MANAGED_ALIASES = (CHAMPION, CHALLENGER, PREVIOUS, ROLLED_BACK)
ACTIONS = ("challenger", "promote", "rollback", "repair")
ROLLBACK_TAGS = ("rollback_reason", "rolled_back_at", "rolled_back_by")  # written on the version rolled back

TagStep = tuple[str, str, str | None]  # (version, key, value); value None: the tag is deleted


def tag_label(version: str, key: str, value: str | None) -> str:
    """The step label of a tag write ('tag v3 key') or deletion ('untag v3 key'), as audited."""
    return f"{'untag' if value is None else 'tag'} v{version} {key}"


@dataclass(frozen=True)
class AliasMove:
    alias: str
    from_version: str | None
    to_version: str | None  # None: remove the alias

    def describe(self) -> str:
        before = f"v{self.from_version}" if self.from_version else "(none)"
        after = f"v{self.to_version}" if self.to_version else "(removed)"
        return f"@{self.alias}: {before} → {after}"


@dataclass(frozen=True)
class Plan:
    action: str
    before: dict[str, str]
    moves: list[AliasMove]
    source_version: str | None = None  # the version being made challenger/promoted
    tags: list[TagStep] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # repair: what was wrong

    @property
    def tag_labels(self) -> list[str]:
        return [tag_label(*t) for t in self.tags]

    @property
    def after(self) -> dict[str, str]:
        state = dict(self.before)
        for move in self.moves:
            if move.to_version is None:
                state.pop(move.alias, None)
            else:
                state[move.alias] = move.to_version
        return state


def changes_only(moves: list[AliasMove]) -> list[AliasMove]:
    """The moves that change something: an alias set to the version it already has (or removed where it
    is absent) is never applied nor recorded."""
    return [m for m in moves if m.from_version != m.to_version]


def normalise(aliases: Mapping[str, object]) -> dict[str, str]:
    return {str(k): str(v) for k, v in sorted(aliases.items())}


def state_token(aliases: Mapping[str, object]) -> str:
    """The alias state a form carries: canonical JSON (readable in the page, compared at submit)."""
    return json.dumps(normalise(aliases), sort_keys=True, separators=(",", ":"))


def parse_state_token(token: str) -> dict[str, str]:
    try:
        value = json.loads(token)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("The form's alias state is not readable; reload the page.") from exc
    if not isinstance(value, dict):
        raise InvalidInput("The form's alias state is not readable; reload the page.")
    return normalise(value)


def describe_state(aliases: dict[str, str]) -> str:
    if not aliases:
        return "no aliases"
    return ", ".join(f"@{a}=v{v}" for a, v in sorted(aliases.items()))


def plan_challenger(aliases: dict[str, str], version: str) -> Plan:
    version = str(version)
    if aliases.get(CHAMPION) == version:
        raise RuleViolation(f"v{version} is already @champion; it cannot also be @challenger.")
    if aliases.get(CHALLENGER) == version:
        raise RuleViolation(f"v{version} is already @challenger.")
    return Plan("challenger", aliases, changes_only([AliasMove(CHALLENGER, aliases.get(CHALLENGER), version)]), version)


def promote_source(aliases: dict[str, str], version: str | None = None) -> str | None:
    """The version a promote would make @champion: the one chosen, else the @challenger."""
    return str(version) if version else aliases.get(CHALLENGER)


def plan_promote(
    aliases: dict[str, str], version: str | None = None, source_tags: Mapping[str, str] | None = None
) -> Plan:
    """`source_tags`: the promoted version's MLflow tags; a version promoted again after a rollback loses
    its rollback tags (it is no longer the rolled-back version), deleted as steps of the promote."""
    source = promote_source(aliases, version)
    if not source:
        raise RuleViolation("There is no @challenger to promote; choose a version or set a challenger first.")
    old = aliases.get(CHAMPION)
    if old == source:
        raise RuleViolation(f"v{source} is already @champion.")
    moves = []
    if old is not None:
        moves.append(AliasMove(PREVIOUS, aliases.get(PREVIOUS), old))
    elif aliases.get(PREVIOUS) == source:  # no champion to keep: @previous-champion would equal @champion
        moves.append(AliasMove(PREVIOUS, source, None))
    moves.append(AliasMove(CHAMPION, old, source))
    if aliases.get(CHALLENGER) == source:
        moves.append(AliasMove(CHALLENGER, source, None))
    if aliases.get(ROLLED_BACK) == source:  # promoted again: it is no longer the rolled-back version
        moves.append(AliasMove(ROLLED_BACK, source, None))
    tags: list[TagStep] = [(source, key, None) for key in ROLLBACK_TAGS if key in (source_tags or {})]
    return Plan("promote", aliases, changes_only(moves), source, tags)


def plan_rollback(aliases: dict[str, str], *, reason: str, now_iso: str, actor_name: str) -> Plan:
    if not reason.strip():
        raise InvalidInput("A rollback needs a reason.")
    current, previous = aliases.get(CHAMPION), aliases.get(PREVIOUS)
    if previous is None:
        raise RuleViolation("There is no @previous-champion to roll back to.")
    if current == previous:
        raise RuleViolation("@champion already equals @previous-champion: repair the aliases instead.")
    moves = [AliasMove(CHAMPION, current, previous)]
    tags: list[TagStep] = []
    if current is not None:
        moves.append(AliasMove(ROLLED_BACK, aliases.get(ROLLED_BACK), current))
        tags = [
            (current, key, value)
            for key, value in zip(ROLLBACK_TAGS, (reason.strip(), now_iso, actor_name), strict=True)
        ]
    # previous-champion is now the champion; keeping it would leave champion == previous-champion.
    moves.append(AliasMove(PREVIOUS, previous, None))
    return Plan("rollback", aliases, changes_only(moves), previous, tags)


def unavailable_actions(aliases: dict[str, str]) -> dict[str, str]:
    """Why promote (the @challenger) or roll back cannot run on this alias state: {action: reason};
    an action that can run is absent. The reasons are the plan functions' own refusals, so a button
    is offered exactly when its dialog would show a plan."""
    reasons: dict[str, str] = {}
    try:
        plan_promote(aliases)
    except RuleViolation as exc:
        reasons["promote"] = str(exc)
    try:
        plan_rollback(aliases, reason="check", now_iso="", actor_name="")
    except RuleViolation as exc:
        reasons["rollback"] = str(exc)
    return reasons


def find_problems(aliases: dict[str, str], existing_versions: set[str]) -> list[tuple[str, str]]:
    """(alias to remove, why) for each inconsistent alias state."""
    problems: list[tuple[str, str]] = []
    for alias, version in sorted(aliases.items()):
        if version not in existing_versions:
            problems.append((alias, f"@{alias} points at v{version}, which does not exist (deleted)."))
    flagged = {a for a, _ in problems}
    champion = aliases.get(CHAMPION)
    if champion is not None and CHAMPION not in flagged:
        if aliases.get(PREVIOUS) == champion and PREVIOUS not in flagged:
            problems.append((PREVIOUS, f"@champion and @previous-champion both point at v{champion}."))
        if aliases.get(CHALLENGER) == champion and CHALLENGER not in flagged:
            problems.append((CHALLENGER, f"@champion and @challenger both point at v{champion}."))
    return problems


def plan_repair(aliases: dict[str, str], existing_versions: set[str]) -> Plan:
    problems = find_problems(aliases, existing_versions)
    if not problems:
        raise RuleViolation("The aliases are consistent; there is nothing to repair.")
    moves = [AliasMove(alias, aliases.get(alias), None) for alias, _ in problems]
    return Plan("repair", aliases, moves, None, problems=[why for _, why in problems])
