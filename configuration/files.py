"""Reading a configuration file into desired units (configuration.state), refusing it with the line and
the reason when it is invalid; and writing the live units back out as a commented TOML file."""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from configuration.locate import key_lines, line_of
from configuration.rules import check_rules
from configuration.state import GATE_FIELDS, MODEL_GATE_DEFAULTS, MODEL_GATE_FIELDS, Units, names, words
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.schedules import ENTRIES

if TYPE_CHECKING:  # pydantic is imported by parse(): exporting the configuration does not need it
    from configuration.schema import ConfigFile


@dataclass(frozen=True)
class Problem:
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.path}: {self.message}" if self.path else f"line {self.line}: {self.message}"


class ConfigInvalid(InvalidInput):
    """The file was refused; `problems` says where and why. Nothing was changed. (HTTP 400; the API
    answers {"detail": ..., "problems": [{"line", "path", "message"}]}.)"""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source, self.problems = source, problems
        self.extra = {"problems": [{"line": p.line, "path": p.path, "message": p.message} for p in problems]}
        super().__init__(f"{source} is not a valid configuration:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class Desired:
    """What a file asks for: `units`, and `manages(key)` saying whether the file speaks for a unit key
    (sections left out of the file leave their units alone; listed users are managed, others are not)."""

    units: Units
    manages: Callable[[str], bool]


def parse(text: str, *, source: str = "configuration", existing_teams: set[str] | None = None) -> Desired:
    """Parse and validate a configuration text without touching the database. Raises ConfigInvalid listing
    every problem (line, key path, reason) in one round: shape (pydantic), control characters and the
    rules between sections (configuration.rules) together; only a file that is not TOML stops at its
    first syntax error (the parser cannot read on). `existing_teams`: team names that stay when the file
    has no [teams] section (to check user memberships and team gate policies against)."""
    raw = _read_toml(text, source)
    lines = key_lines(text)
    problems: list[Problem] = []

    def refuse(path: tuple[Any, ...], message: str) -> None:
        problems.append(Problem(line_of(lines, path), ".".join(_shown(part) for part in path), message))

    try:
        controls = _control_characters(raw, ())
    except RecursionError:
        raise ConfigInvalid(source, [Problem(1, "", "not valid TOML: arrays or tables nested too deeply")]) from None
    for path in controls:
        refuse(path, "contains a control character (e.g. \\u0000)")
    config, left_out = _shape(raw, controls, refuse)
    if config is not None:

        def broken(path: tuple[Any, ...]) -> bool:
            return any(gone[: len(path)] == path or path[: len(gone)] == gone for gone in left_out)

        check_rules(config, teams=_team_names(raw, existing_teams), broken=broken, refuse=refuse)
    if problems or config is None:
        raise ConfigInvalid(source, sorted(dict.fromkeys(problems), key=lambda p: p.line))
    return _desired(config)


def _read_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match.group(1)) if match else 1
        raise ConfigInvalid(source, [Problem(line, "", f"not valid TOML: {exc}")]) from None
    except RecursionError:
        raise ConfigInvalid(source, [Problem(1, "", "not valid TOML: arrays or tables nested too deeply")]) from None


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _shown(part: Any) -> str:
    """One part of a key path as shown in a problem: control characters escaped (`\\x00`)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(part))


def _control_characters(value: Any, path: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Key paths (as pydantic's `loc`) of every key or string in a parsed TOML value holding a control
    character other than tab and line breaks: none has a meaning in a setting, and PostgreSQL cannot store NUL."""
    if isinstance(value, str):
        return [path] if _CONTROL.search(value) else []
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in _control_characters(item, (*path, i))]
    if isinstance(value, dict):
        return [
            found
            for key, item in value.items()
            for found in ([(*path, key)] if _CONTROL.search(key) else _control_characters(item, (*path, key)))
        ]
    return []


def _shape(
    raw: dict[str, Any], remove: list[tuple[Any, ...]], refuse: Callable[[tuple[Any, ...], str], None]
) -> tuple[ConfigFile | None, set[tuple[Any, ...]]]:
    """`raw` checked against the file's shape (configuration.schema) with the parts at `remove` and every
    part pydantic refuses left out (each refused with its location), so the rules can still check the
    rest: a wrong value is left out, a table missing a required key is left out whole. Returns the
    ConfigFile of what is left (None if nothing could be kept) and the paths left out. A gap that only
    leaving a part out made (a list now empty, a key now missing) is not reported again."""
    from pydantic import ValidationError as PydanticError

    from configuration.schema import ConfigFile

    data = copy.deepcopy(raw)
    left_out = set(remove)
    _leave_out(data, left_out)
    while True:
        try:
            return ConfigFile.model_validate(data), left_out
        except PydanticError as exc:
            errors = [(tuple(err["loc"]), err["msg"]) for err in exc.errors()]
        for loc, message in errors:
            if not any(gone[: len(loc)] == loc for gone in left_out):
                refuse(loc, message)
        if not _leave_out(data, {loc for loc, _ in errors}):
            return None, left_out
        left_out |= {loc for loc, _ in errors}


_GONE = object()


def _leave_out(data: Any, paths: set[tuple[Any, ...]]) -> bool:
    """Remove from `data` (parsed TOML) the deepest value that exists along each path; False when none did."""
    removed = False
    for path in paths:
        node, slot = data, None
        for key in path:
            if not _holds(node, key):
                break
            slot, node = (node, key), node[key]
        if slot is not None and slot[0][slot[1]] is not _GONE:
            slot[0][slot[1]] = _GONE
            removed = True
    _sweep(data)
    return removed


def _holds(node: Any, key: Any) -> bool:
    if isinstance(node, dict):
        return key in node
    return isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)


def _sweep(value: Any) -> None:
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is _GONE]:
            del value[key]
        for item in value.values():
            _sweep(item)
    elif isinstance(value, list):
        value[:] = [item for item in value if item is not _GONE]
        for item in value:
            _sweep(item)


def _team_names(raw: dict[str, Any], existing_teams: set[str] | None) -> set[str] | None:
    """The team names a reference may use: every key of the file's [teams] (a team whose table is broken
    is reported there, not again at each reference), the existing teams when the file has no [teams], and
    None when [teams] is not a table (nobody can say which teams there will be)."""
    if "teams" not in raw:
        return set(existing_teams or ())
    return set(raw["teams"]) if isinstance(raw["teams"], dict) else None


def _gate(spec: Any, fields: tuple[str, ...] = GATE_FIELDS) -> dict[str, Any]:
    return {k: getattr(spec, k) for k in fields if getattr(spec, k) is not None}


def _desired(config: ConfigFile) -> Desired:
    from configuration.selectors import gate_builtin_default

    units: Units = {}
    for name, team in config.teams.items():
        units[f"team:{name}"] = {
            "display_name": team.display_name,
            "experiment_prefix": team.experiment_prefix,
            "model_patterns": names(team.model_patterns),
            "model_regex": team.model_regex,
        }
        for model in names(team.models):
            units[f"ownership:{model}"] = name
    for username, user in config.users.items():
        units[f"user:{username}"] = {
            "email": user.email,
            "active": user.active,
            "roles": names(user.roles),
            "teams": names(user.teams),
            "read_only_teams": names(user.read_only_teams),
        }
    units["naming.experiments"] = {
        "segment_pattern": config.naming.experiments.segment_pattern,
        "reserved_words": words(config.naming.experiments.reserved_words),
    }
    units["naming.models"] = {
        "algorithm_words": words(config.naming.models.algorithm_words),
        "reserved_words": words(config.naming.models.reserved_words),
    }
    units["required_run_tags"] = list(dict.fromkeys(t.strip() for t in config.required_run_tags))
    units["required_version_metadata"] = [
        {"key": i.key.strip(), "description": i.description} for i in config.required_version_metadata
    ]
    units["gate.default"] = {**gate_builtin_default(), **_gate(config.gate.default)}
    for team_name, spec in config.gate.teams.items():
        if _gate(spec):
            units[f"gate.team:{team_name}"] = _gate(spec)
    for model, spec in config.gate.models.items():
        units[f"gate.model:{model}"] = {**MODEL_GATE_DEFAULTS, **_gate(spec, MODEL_GATE_FIELDS)}
    units["metrics"] = {
        "lower_is_better": sorted({m.strip() for m in config.metrics.lower_is_better}),
        "higher_is_better": sorted({m.strip() for m in config.metrics.higher_is_better}),
    }
    units["cleanup"] = {
        "older_than_days": config.cleanup.older_than_days,
        "statuses": sorted(set(config.cleanup.statuses)),
        "keep_values": words(config.cleanup.keep_values),
    }
    for entry in ENTRIES:
        units[f"schedule:{entry.key}"] = config.schedules.get(entry.key, entry.cron).strip()
    units["notifications"] = {"emails": names(config.notifications.emails)}
    units["environments"] = {name: spec.model_dump() for name, spec in sorted(config.environments.items())}
    return Desired(units=units, manages=_manages(config, set(units)))


def _manages(config: ConfigFile, listed: set[str]) -> Callable[[str], bool]:
    present = set(config.model_fields_set)
    naming_present = config.naming.model_fields_set if "naming" in present else set()
    gate_present = config.gate.model_fields_set if "gate" in present else set()
    owners = {
        "team": "teams" in present,
        "ownership": "teams" in present,
        "gate.team": "teams" in gate_present,
        "gate.model": "models" in gate_present,
        "schedule": "schedules" in present,
    }
    singles = {
        "naming.experiments": "experiments" in naming_present,
        "naming.models": "models" in naming_present,
        "required_run_tags": "required_run_tags" in present,
        "required_version_metadata": "required_version_metadata" in present,
        "gate.default": "default" in gate_present,
        "metrics": "metrics" in present,
        "cleanup": "cleanup" in present,
        "notifications": "notifications" in present,
        "environments": "environments" in present,
    }

    def manages(key: str) -> bool:
        kind = key.partition(":")[0]
        if kind == "user":
            return key in listed  # people are never removed by a file
        if key in singles:
            return singles[key]
        return owners.get(kind, False)

    return manages
