"""Reading a configuration file into desired units (configuration.state), refusing it with the line and
the reason when it is invalid; and writing the live units back out as a commented TOML file."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from catalog.naming import TAG_KEY_RE
from configuration.locate import key_lines, line_of
from configuration.selectors import literal_count
from configuration.state import GATE_FIELDS, MODEL_GATE_DEFAULTS, MODEL_GATE_FIELDS, Units, names, words
from mlopsadmin import policy
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.core.models import TEAM_PREFIX_RE
from mlopsadmin.schedules import ENTRIES, cron_valid

if TYPE_CHECKING:  # pydantic is imported by parse(): exporting the configuration does not need it
    from configuration.schema import ConfigFile

TEAM_NAME_RE = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")
WORD_RE = re.compile(r"^[a-z0-9]+$")


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


def globs_overlap(a: str, b: str) -> bool:
    """Whether some name matches both globs (`*` any run, `?` one character, other characters literal)."""
    memo: dict[tuple[int, int], bool] = {}

    def go(i: int, j: int) -> bool:
        if (i, j) in memo:
            return memo[(i, j)]
        if i == len(a) and j == len(b):
            result = True
        elif i < len(a) and a[i] == "*":
            result = go(i + 1, j) or (j < len(b) and go(i, j + 1))
        elif j < len(b) and b[j] == "*":
            result = go(i, j + 1) or (i < len(a) and go(i + 1, j))
        elif i == len(a) or j == len(b):
            result = False
        else:
            result = (a[i] == b[j] or "?" in (a[i], b[j])) and go(i + 1, j + 1)
        memo[(i, j)] = result
        return result

    return go(0, 0)


def parse(text: str, *, source: str = "configuration", existing_teams: set[str] | None = None) -> Desired:
    """Parse and validate a configuration text. Raises ConfigInvalid (line, key path, reason for each
    problem) without touching the database. `existing_teams`: team names that stay when the file has no
    [teams] section (to check user memberships and team gate policies against)."""
    from pydantic import ValidationError as PydanticError

    from configuration.schema import ConfigFile

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match.group(1)) if match else 1
        raise ConfigInvalid(source, [Problem(line, "", f"not valid TOML: {exc}")]) from None
    except RecursionError:
        raise ConfigInvalid(source, [Problem(1, "", "not valid TOML: arrays or tables nested too deeply")]) from None
    lines = key_lines(text)
    try:
        controls = [
            Problem(
                line_of(lines, path),
                ".".join(str(p).encode("unicode_escape").decode("ascii") for p in path),
                "contains a control character (e.g. \\u0000)",
            )
            for path in _control_characters(raw, ())
        ]
    except RecursionError:
        raise ConfigInvalid(source, [Problem(1, "", "not valid TOML: arrays or tables nested too deeply")]) from None
    if controls:
        raise ConfigInvalid(source, controls)
    try:
        config = ConfigFile.model_validate(raw)
    except PydanticError as exc:
        found = [
            Problem(line_of(lines, err["loc"]), ".".join(str(p) for p in err["loc"]), err["msg"])
            for err in exc.errors()
        ]
        raise ConfigInvalid(source, found) from None
    problems: list[Problem] = []

    def refuse(path: tuple[Any, ...], message: str) -> None:
        problems.append(Problem(line_of(lines, path), ".".join(str(p) for p in path), message))

    present = config.model_fields_set
    teams = set(config.teams) if "teams" in present else set(existing_teams or ())
    _check_teams(config, refuse)
    _check_users(config, teams, refuse)
    _check_rest(config, teams, refuse)
    if problems:
        raise ConfigInvalid(source, sorted(problems, key=lambda p: p.line))
    return _desired(config)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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


def _check_teams(config: ConfigFile, refuse: Callable[..., None]) -> None:
    prefixes: dict[str, str] = {}
    owners: dict[str, str] = {}
    patterns: list[tuple[str, str]] = []
    for name, team in config.teams.items():
        if not TEAM_NAME_RE.match(name):
            refuse(("teams", name), "a team key is 1-64 letters, digits, '-' or '_'")
        if not TEAM_PREFIX_RE.match(team.experiment_prefix):
            refuse(("teams", name, "experiment_prefix"), f"{team.experiment_prefix!r} must look like '/search-team'")
        elif team.experiment_prefix in prefixes:
            other = prefixes[team.experiment_prefix]
            refuse(("teams", name, "experiment_prefix"), f"already the prefix of team {other}")
        prefixes.setdefault(team.experiment_prefix, name)
        for model in team.models:
            if not model.strip() or len(model) > 256:
                refuse(("teams", name, "models"), f"{model!r} is not a registered model name")
            elif model in owners and owners[model] != name:
                refuse(("teams", name, "models"), f"{model!r} is already owned explicitly by team {owners[model]}")
            owners[model] = name
        for pattern in team.model_patterns:
            if not pattern.strip() or len(pattern) > 256 or "[" in pattern or "]" in pattern:
                refuse(("teams", name, "model_patterns"), f"{pattern!r}: patterns use literal text, * and ? only")
            else:
                patterns.append((pattern, name))
        if team.model_regex:
            try:
                re.compile(team.model_regex)
            except re.error as exc:
                refuse(("teams", name, "model_regex"), f"not a valid regular expression: {exc}")
    seen: dict[str, str] = {}
    for pattern, team_name in patterns:
        if pattern in seen:
            refuse(("teams", team_name, "model_patterns"), f"{pattern!r} is also a pattern of team {seen[pattern]}")
        seen.setdefault(pattern, team_name)
    for (p1, t1), (p2, t2) in combinations(patterns, 2):
        if t1 != t2 and p1 != p2 and literal_count(p1) == literal_count(p2) and globs_overlap(p1, p2):
            refuse(
                ("teams", t2, "model_patterns"),
                f"{p2!r} (team {t2}) and {p1!r} (team {t1}) are equally specific and can match the same name; "
                "make one more specific or name the model explicitly",
            )


def _check_users(config: ConfigFile, teams: set[str], refuse: Callable[..., None]) -> None:
    for username, user in config.users.items():
        try:
            UnicodeUsernameValidator()(username)
            if len(username) > 150:
                raise ValidationError("too long")
        except ValidationError:
            refuse(("users", username), "a username is up to 150 letters, digits and @ . + - _")
        if user.email:
            try:
                validate_email(user.email)
            except ValidationError:
                refuse(("users", username, "email"), f"{user.email!r} is not an email address")
        for role in user.roles:
            if role not in policy.ALL_ROLES:
                refuse(("users", username, "roles"), f"unknown role {role!r}; known: {', '.join(policy.ALL_ROLES)}")
        for field in ("teams", "read_only_teams"):
            for team in getattr(user, field):
                if team not in teams:
                    refuse(("users", username, field), f"unknown team {team!r}")
        both = set(user.teams) & set(user.read_only_teams)
        if both:
            refuse(("users", username, "read_only_teams"), f"listed in teams too: {', '.join(sorted(both))}")


def _check_rest(config: ConfigFile, teams: set[str], refuse: Callable[..., None]) -> None:
    try:
        re.compile(config.naming.experiments.segment_pattern)
    except re.error as exc:
        refuse(("naming", "experiments", "segment_pattern"), f"not a valid regular expression: {exc}")
    for kind in ("algorithm_words", "reserved_words"):
        for word in getattr(config.naming.models, kind):
            if not WORD_RE.match(word.strip().lower()) or len(word) > 64:
                refuse(("naming", "models", kind), f"{word!r}: one lowercase token of letters and digits")
    for word in config.naming.experiments.reserved_words:
        if not word.strip() or len(word) > 64:
            refuse(("naming", "experiments", "reserved_words"), f"{word!r} is not a word")
    overlap = set(words(config.naming.models.algorithm_words)) & set(words(config.naming.models.reserved_words))
    if overlap:
        refuse(("naming", "models", "reserved_words"), f"also algorithm words: {', '.join(sorted(overlap))}")
    for tag in config.required_run_tags:
        if not TAG_KEY_RE.match(tag):
            refuse(("required_run_tags",), f"{tag!r} is not a tag key")
    keys = [item.key for item in config.required_version_metadata]
    for key in keys:
        if not TAG_KEY_RE.match(key):
            refuse(("required_version_metadata",), f"{key!r} is not a tag key")
    if len(set(keys)) != len(keys):
        refuse(("required_version_metadata",), "a key is listed twice")
    for team in config.gate.teams:
        if team not in teams:
            refuse(("gate", "teams", team), f"unknown team {team!r}")
    own_only = [k for k in MODEL_GATE_FIELDS if k not in GATE_FIELDS]
    for where, spec in [(("gate", "default"), config.gate.default)] + [
        (("gate", "teams", t), s) for t, s in config.gate.teams.items()
    ]:
        for key in own_only:
            if getattr(spec, key) is not None:
                refuse((*where, key), "only a model's own policy (gate.models) sets this")
    for kind in ("lower_is_better", "higher_is_better"):
        for metric in getattr(config.metrics, kind):
            if not metric.strip() or len(metric) > 250:
                refuse(("metrics", kind), f"{metric!r} is not a metric name")
    both = {m.strip() for m in config.metrics.lower_is_better} & {m.strip() for m in config.metrics.higher_is_better}
    if both:
        refuse(("metrics", "higher_is_better"), f"also lower_is_better: {', '.join(sorted(both))}")
    for value in config.cleanup.keep_values:
        if not value.strip() or len(value) > 250:
            refuse(("cleanup", "keep_values"), f"{value!r} is not a tag value")
    known = {e.key for e in ENTRIES}
    for key, cron in config.schedules.items():
        if key not in known:
            refuse(("schedules", key), f"unknown schedule; known: {', '.join(sorted(known))}")
        elif cron.strip().lower() != "off" and not cron_valid(cron):
            refuse(("schedules", key), f"{cron!r} is not five cron fields or 'off'")
    for email in config.notifications.emails:
        try:
            validate_email(email)
        except ValidationError:
            refuse(("notifications", "emails"), f"{email!r} is not an email address")


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
    }

    def manages(key: str) -> bool:
        kind = key.partition(":")[0]
        if kind == "user":
            return key in listed  # people are never removed by a file
        if key in singles:
            return singles[key]
        return owners.get(kind, False)

    return manages
