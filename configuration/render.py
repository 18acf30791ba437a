"""Writing the live configuration (configuration.state units) as one commented TOML file, the input
format of apply_config: applying the written file to the same install changes nothing."""

from __future__ import annotations

from typing import Any

import tomlkit
from django.utils import timezone
from tomlkit.items import Table

from configuration.state import MODEL_GATE_FIELDS, Units
from mlopsadmin.schedules import ENTRIES

HEADER = """mlopsadmin configuration (docs/configuration.md). Apply with `manage.py apply_config FILE [--dry-run]`.
A section present here is the whole truth for what it holds; a section left out is left as it is.
Users listed are managed (roles, memberships, email, active); users not listed are left alone."""


def _table(comment: str = "") -> Table:
    table = tomlkit.table()
    if comment:
        table.add(tomlkit.comment(comment))
    return table


def _array(values: list[Any], multiline: bool = False) -> Any:
    array = tomlkit.array()
    array.extend(values)
    return array.multiline(multiline and len(values) > 3)


def render(units: Units) -> str:
    """The TOML text of `units` (as returned by configuration.state.live_units())."""
    doc = tomlkit.document()
    for line in HEADER.splitlines():
        doc.add(tomlkit.comment(line))
    doc.add(tomlkit.comment(f"Exported {timezone.now():%Y-%m-%d %H:%M} UTC."))
    doc.add("version", 1)
    doc.add(tomlkit.nl())
    doc.add(tomlkit.comment("Tags every run should carry (catalog tag compliance)."))
    doc.add("required_run_tags", _array(units["required_run_tags"], multiline=True))
    doc.add(tomlkit.comment("Tags every model version should carry, in the order the model page lists them."))
    metadata = tomlkit.array()
    for item in units["required_version_metadata"]:
        row = tomlkit.inline_table()
        row.update(item)
        metadata.append(row)
    doc.add("required_version_metadata", metadata.multiline(True))
    owned: dict[str, list[str]] = {}
    for key, team in units.items():
        if key.startswith("ownership:"):
            owned.setdefault(team, []).append(key.split(":", 1)[1])
    teams = _table()
    teams.add(tomlkit.comment("Ownership: an explicit model name wins; then the most specific pattern (most literal"))
    teams.add(tomlkit.comment("characters; equally specific overlapping patterns are refused); then model_regex."))
    for key, value in units.items():
        if key.startswith("team:"):
            name = key.split(":", 1)[1]
            team = _table()
            team.add("display_name", value["display_name"])
            team.add("experiment_prefix", value["experiment_prefix"])
            team.add("models", _array(sorted(owned.get(name, [])), multiline=True))
            team.add("model_patterns", _array(value["model_patterns"]))
            if value["model_regex"]:
                team.add("model_regex", value["model_regex"])
            teams.add(name, team)
    doc.add(tomlkit.nl())
    doc.add("teams", teams)
    users = _table()
    users.add(tomlkit.comment(f"roles: {', '.join(_roles())}. Passwords are never part of this file."))
    for key, value in units.items():
        if key.startswith("user:"):
            user = tomlkit.inline_table()
            user.update({k: _array(v) if isinstance(v, list) else v for k, v in value.items()})
            users.add(tomlkit.key(key.split(":", 1)[1]), user)
    doc.add("users", users)
    naming = _table()
    experiments = _table("Experiment names: /<team prefix>/<project>/<type>, each segment matching the pattern.")
    experiments.add("segment_pattern", units["naming.experiments"]["segment_pattern"])
    experiments.add("reserved_words", _array(units["naming.experiments"]["reserved_words"], multiline=True))
    naming.add("experiments", experiments)
    models = _table("Registered model names must not contain these words (the registry's naming lint).")
    models.add("algorithm_words", _array(units["naming.models"]["algorithm_words"], multiline=True))
    models.add("reserved_words", _array(units["naming.models"]["reserved_words"], multiline=True))
    naming.add("models", models)
    doc.add("naming", naming)
    metrics = _table("Metric direction by name; others by their words (loss, error, latency... lower is better).")
    metrics.add("lower_is_better", _array(units["metrics"]["lower_is_better"]))
    metrics.add("higher_is_better", _array(units["metrics"]["higher_is_better"]))
    doc.add("metrics", metrics)
    gate = _table()
    gate.add(tomlkit.comment("Promotion gate. A model's own policy wins, then its team's, then the default."))
    gate.add("default", _gate_table(units["gate.default"]))
    gate_teams, gate_models = _table(), _table()
    for key, value in units.items():
        if key.startswith("gate.team:"):
            gate_teams.add(key.split(":", 1)[1], _gate_table(value))
        elif key.startswith("gate.model:"):
            gate_models.add(tomlkit.key(key.split(":", 1)[1]), _gate_table(value))
    gate.add("teams", gate_teams)
    gate.add("models", gate_models)
    doc.add("gate", gate)
    cleanup = _table(
        "Cleanup form defaults; runs tagged keep=true/yes/y/1/on/keep or <one of keep_values> are never deleted."
    )
    for field, value in units["cleanup"].items():
        cleanup.add(field, _array(value) if isinstance(value, list) else value)
    doc.add("cleanup", cleanup)
    schedules = _table("Five cron fields or 'off'. A SCHEDULE_<NAME> environment variable wins; beat reads at start.")
    for entry in ENTRIES:
        schedules.add(entry.key, tomlkit.item(units[f"schedule:{entry.key}"]).comment(entry.description))
    doc.add("schedules", schedules)
    notifications = _table("Approval and capacity notices; the webhook URL is a secret: NOTIFY_WEBHOOK_URL.")
    notifications.add("emails", _array(units["notifications"]["emails"]))
    doc.add("notifications", notifications)
    environments = _table(
        "Environments (kind 'server': own tracking_uri, credentials from the variables username_env/password_env;"
    )
    environments.add(tomlkit.comment("kind 'prefix': names with `prefix` in this registry); next = promotion path."))
    for name, spec in units["environments"].items():
        environment = tomlkit.inline_table()
        environment.update({k: v for k, v in spec.items() if v is not None})
        environments.add(tomlkit.key(name), environment)
    doc.add("environments", environments)
    return tomlkit.dumps(doc)


def _gate_table(value: dict[str, Any]) -> Any:
    table = tomlkit.inline_table()
    table.update({k: value[k] for k in MODEL_GATE_FIELDS if k in value})
    return table


def _roles() -> list[str]:
    from mlopsadmin.policy import ALL_ROLES

    return ALL_ROLES
