"""Identity-provider groups → mlopsadmin roles and team memberships (OIDC_GROUP_MAP).

Two spellings, both read from one environment variable:

- JSON: ``{"ml-search-leads": ["ML lead:search"], "mlops-ops": "Operator", "ds-search": ":search"}``
- a list: ``ml-search-leads=ML lead:search; mlops-ops=Operator; ds-search=:search`` (``;``, ``,`` or newlines
  between entries; one group may appear several times).

Each target is ``ROLE``, ``ROLE:TEAM`` or ``:TEAM`` (membership only); ``member`` is accepted as a role meaning
"no role". Roles are mlopsadmin's roles (mlopsadmin.policy.ALL_ROLES, case-insensitive); teams are team keys.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from mlopsadmin import policy


class GroupMapError(ValueError):
    """OIDC_GROUP_MAP cannot be read; the message says which entry and why."""


@dataclass(frozen=True)
class Grant:
    role: str  # one of policy.ALL_ROLES, or "" for membership only
    team: str  # team key, or "" for a role without a team


def _parse_target(group: str, target: str) -> Grant:
    role, _, team = (part.strip() for part in target.partition(":"))
    if role.lower() in {"", "member"}:
        role = ""
    else:
        known = {name.lower(): name for name in policy.ALL_ROLES}
        if role.lower() not in known:
            raise GroupMapError(
                f"group {group!r}: unknown role {role!r} (known: {', '.join(policy.ALL_ROLES)}, or 'member')"
            )
        role = known[role.lower()]
    if not role and not team:
        raise GroupMapError(f"group {group!r}: give a role, a team, or both (ROLE, ROLE:TEAM or :TEAM)")
    if team and not re.fullmatch(r"[-a-zA-Z0-9_]+", team):
        raise GroupMapError(f"group {group!r}: {team!r} is not a team key")
    return Grant(role=role, team=team)


def parse_group_map(text: str) -> dict[str, list[Grant]]:
    """Parse OIDC_GROUP_MAP (either spelling) into {group: [Grant, ...]}. Raises GroupMapError."""
    text = (text or "").strip()
    if not text:
        return {}
    mapping: dict[str, list[Grant]] = {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GroupMapError(f"not valid JSON: {exc}") from exc
        for group, targets in data.items():
            targets = [targets] if isinstance(targets, str) else targets
            if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
                raise GroupMapError(f"group {group!r}: the value must be a string or a list of strings")
            mapping.setdefault(str(group), []).extend(_parse_target(group, t) for t in targets)
        return mapping
    for entry in re.split(r"[;,\n]", text):
        if not entry.strip():
            continue
        group, sep, target = entry.partition("=")
        if not sep or not group.strip():
            raise GroupMapError(f"entry {entry.strip()!r} must look like group=ROLE[:TEAM]")
        mapping.setdefault(group.strip(), []).append(_parse_target(group.strip(), target))
    return mapping


def grants_for(groups: list[str], mapping: dict[str, list[Grant]]) -> tuple[set[str], set[str]]:
    """The (roles, team keys) the given IdP groups give under `mapping`; unmapped groups give nothing."""
    roles: set[str] = set()
    teams: set[str] = set()
    for group in groups:
        for grant in mapping.get(group, []):
            if grant.role:
                roles.add(grant.role)
            if grant.team:
                teams.add(grant.team)
    return roles, teams
