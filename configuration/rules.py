"""The rules of a configuration file that its shape (configuration.schema, checked by pydantic) cannot say:
team keys, prefixes and model patterns, users' roles and teams, regular expressions, tag keys, crons, gate
policies per team, overlaps between two lists.

`check_rules` hands every problem to `refuse(path, message)` (path as pydantic's `loc`), so the file is
refused with all of them at once. `teams` are the team names a reference may use (None when that cannot be
said: the [teams] section is unreadable); `broken(path)` says whether the shape check left out (part of)
what lies at `path`, so a rule comparing two values never blames one for the default of the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import combinations
from typing import TYPE_CHECKING, Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from catalog.naming import TAG_KEY_RE
from configuration.selectors import literal_count
from configuration.state import GATE_FIELDS, MODEL_GATE_FIELDS, words
from mlopsadmin import policy
from mlopsadmin.core.models import TEAM_PREFIX_RE
from mlopsadmin.schedules import ENTRIES, cron_valid
from registry_ui.validation import model_name_problem

if TYPE_CHECKING:
    from configuration.schema import ConfigFile

TEAM_NAME_RE = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")
WORD_RE = re.compile(r"^[a-z0-9]+$")
Refuse = Callable[[tuple[Any, ...], str], None]
Broken = Callable[[tuple[Any, ...]], bool]


def check_rules(config: ConfigFile, *, teams: set[str] | None, broken: Broken, refuse: Refuse) -> None:
    """Apply every rule to `config` (what of the file has the right shape); see the module docstring."""
    _check_teams(config, refuse)
    _check_users(config, teams, refuse)
    _check_rest(config, teams, broken, refuse)
    _check_environments(config, refuse)


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


def _check_teams(config: ConfigFile, refuse: Refuse) -> None:
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
            if (problem := model_name_problem(model)) is not None:
                refuse(("teams", name, "models"), problem)
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


def _check_users(config: ConfigFile, teams: set[str] | None, refuse: Refuse) -> None:
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
                if teams is not None and team not in teams:
                    refuse(("users", username, field), f"unknown team {team!r}")
        both = set(user.teams) & set(user.read_only_teams)
        if both:
            refuse(("users", username, "read_only_teams"), f"listed in teams too: {', '.join(sorted(both))}")


def _check_rest(config: ConfigFile, teams: set[str] | None, broken: Broken, refuse: Refuse) -> None:
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
    if overlap and not broken(("naming", "models")):
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
    for model in config.gate.models:
        if (problem := model_name_problem(model)) is not None:
            refuse(("gate", "models", model), problem)
    for team in config.gate.teams:
        if teams is not None and team not in teams:
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
    if both and not broken(("metrics",)):
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


def _check_environment_identity(envs: dict[str, Any], refuse: Refuse) -> None:
    """Each environment names its own registered models (not one server or one prefix twice: a copy would
    land in its own model) and has at most one environment promoting into it: an approval for a copy into
    it names the version by its number in the environment before it, and "how far behind" counts that
    one environment's versions (registry_ui.environments.approvals, selectors)."""
    into: dict[str, str] = {}  # target -> the environment promoting into it
    names: dict[str, str] = {}  # "server <uri>" / "prefix <p>" -> the environment naming models so
    for name, spec in sorted(envs.items()):
        if spec.next in into:
            refuse(("environments", name, "next"), f"{into[spec.next]} and {name} both promote into {spec.next}")
        elif spec.next:
            into[spec.next] = name
        server = spec.kind == "server"
        key = f"server {spec.tracking_uri.rstrip('/').lower()}" if server else f"prefix {spec.prefix}"
        if key in names:
            same = "are the same tracking server" if server else "use the same prefix"
            refuse(("environments", name), f"{names[key]} and {name} {same}")
        names.setdefault(key, name)


def _check_environments(config: ConfigFile, refuse: Refuse) -> None:
    """Environments (issue 22): a server has an http(s) URI without credentials in it (they come from the
    variables named by username_env / password_env); a prefix environment has a prefix; `next` names
    another environment and the promotion paths have no cycle."""
    envs = config.environments
    for name, spec in envs.items():
        where = ("environments", name)
        if not TEAM_NAME_RE.match(name):
            refuse(where, "an environment key is 1-64 letters, digits, '-' or '_'")
        if spec.kind == "server":
            if not re.match(r"^https?://[^\s]+$", spec.tracking_uri):
                refuse((*where, "tracking_uri"), "a server environment needs an http(s) tracking_uri")
            elif "@" in spec.tracking_uri.split("://", 1)[1].split("/", 1)[0]:
                refuse((*where, "tracking_uri"), "no credentials in the URI: name them in username_env/password_env")
        elif not spec.prefix.strip():
            refuse((*where, "prefix"), "a prefix environment needs a prefix such as 'prod.'")
        elif (problem := model_name_problem(spec.prefix + "model")) is not None:  # it starts every name there
            refuse((*where, "prefix"), problem)
        if spec.next and spec.next not in envs:
            refuse((*where, "next"), f"unknown environment {spec.next!r}")
        if spec.threshold is not None and not spec.metric:
            refuse((*where, "metric"), "a threshold needs the metric it applies to")
    _check_environment_identity(envs, refuse)
    for name in envs:
        seen, current = {name}, envs[name].next
        while current in envs:
            if current in seen:
                refuse(("environments", name, "next"), "the promotion path goes round in a circle")
                break
            seen.add(current)
            current = envs[current].next
