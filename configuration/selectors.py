"""Runtime reads of the stored configuration, each falling back to the built-in default (settings.py,
schedules.py) when no value was stored. Used by the gate, cleanup, notifications and the beat schedule."""

from __future__ import annotations

import fnmatch
import time
from typing import Any

from django.conf import settings

from configuration.models import ConfigSetting, ModelPattern

CLEANUP_STATUSES = ("FAILED", "KILLED", "FINISHED")


def stored(key: str) -> Any:
    """The stored JSON value of `key`, or None when none is stored."""
    row = ConfigSetting.objects.filter(key=key).values_list("value", flat=True).first()
    return row


def gate_builtin_default() -> dict[str, Any]:
    return {
        "metric": str(settings.REGISTRY_DEFAULT_GATE_METRIC),
        "threshold": float(settings.PROMOTION_GATE_THRESHOLD),
        "max_drop_pct": float(settings.PROMOTION_GATE_MAX_DROP_PCT),
        "require_approval": bool(settings.PROMOTION_GATE_REQUIRE_APPROVAL),
    }


def gate_default() -> dict[str, Any]:
    """The gate for models without a team or model policy: stored 'gate.default' over the settings."""
    return {**gate_builtin_default(), **(stored("gate.default") or {})}


def gate_settings(team_name: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(`gate_default()`, `gate_team(team_name)`) in one query ({} for the team part when `team_name` is
    None or the team has no policy): the gate reads both at each promotion, under the model's lock."""
    team_key = f"gate.team:{team_name}" if team_name else None
    keys = ["gate.default"] + ([team_key] if team_key else [])
    rows = dict(ConfigSetting.objects.filter(key__in=keys).values_list("key", "value"))
    default = {**gate_builtin_default(), **(rows.get("gate.default") or {})}
    return default, dict((rows.get(team_key) if team_key else None) or {})


def gate_team(team_name: str) -> dict[str, Any]:
    """A team's gate fields (only those it sets); {} when the team has no policy."""
    return dict(stored(f"gate.team:{team_name}") or {})


def cleanup_builtin_default() -> dict[str, Any]:
    return {
        "older_than_days": int(settings.MAINTENANCE_CLEANUP_DEFAULT_DAYS),
        "statuses": ["FAILED", "KILLED"],
        "keep_values": ["true"],
    }


def cleanup_defaults() -> dict[str, Any]:
    """{'older_than_days': int, 'statuses': [str], 'keep_values': [str]}: the cleanup form's defaults and
    the values of a run's `keep` tag that exclude it from every cleanup (compared lower-cased, trimmed)."""
    return {**cleanup_builtin_default(), **(stored("cleanup") or {})}


_KEEP_CACHE: dict[str, Any] = {}
KEEP_CACHE_SECONDS = 10.0


def keep_values() -> frozenset[str]:
    """The `keep` tag values that protect a run, lower-cased. Read at most every KEEP_CACHE_SECONDS per
    process (a plan checks it once per run); apply_config clears this process's copy at once."""
    now = time.monotonic()
    if _KEEP_CACHE.get("at", -1e9) + KEEP_CACHE_SECONDS < now:
        _KEEP_CACHE["values"] = frozenset(v.strip().lower() for v in cleanup_defaults()["keep_values"])
        _KEEP_CACHE["at"] = now
    return _KEEP_CACHE["values"]


def metric_names_builtin_default() -> dict[str, list[str]]:
    return {
        "lower_is_better": sorted({n.strip() for n in settings.METRICS_LOWER_IS_BETTER if n.strip()}),
        "higher_is_better": sorted({n.strip() for n in settings.METRICS_HIGHER_IS_BETTER if n.strip()}),
    }


def metric_names() -> dict[str, list[str]]:
    """{'lower_is_better': [name], 'higher_is_better': [name]}: stored 'metrics' over the settings
    METRICS_LOWER_IS_BETTER / METRICS_HIGHER_IS_BETTER (registry_ui.metric_direction reads these)."""
    return {**metric_names_builtin_default(), **(stored("metrics") or {})}


_METRICS_CACHE: dict[str, Any] = {}


def metric_names_cached() -> dict[str, list[str]]:
    """metric_names(), read at most every KEEP_CACHE_SECONDS per process (a comparison asks per metric)."""
    now = time.monotonic()
    if _METRICS_CACHE.get("at", -1e9) + KEEP_CACHE_SECONDS < now:
        _METRICS_CACHE["values"] = metric_names()
        _METRICS_CACHE["at"] = now
    return _METRICS_CACHE["values"]


def clear_caches() -> None:
    _KEEP_CACHE.clear()
    _METRICS_CACHE.clear()


def notification_builtin_default() -> dict[str, Any]:
    return {"emails": list(settings.NOTIFY_EMAILS), "webhook_url": str(settings.NOTIFY_WEBHOOK_URL)}


def notification_targets() -> dict[str, Any]:
    """{'emails': [str], 'webhook_url': str}: stored targets, else NOTIFY_EMAILS / NOTIFY_WEBHOOK_URL."""
    return {**notification_builtin_default(), **(stored("notifications") or {})}


def environments() -> dict[str, dict[str, Any]]:
    """The configured environments (issue 22): name -> EnvironmentSpec fields (configuration.schema);
    {} when none are configured."""
    return dict(stored("environments") or {})


def schedule_overrides() -> dict[str, str]:
    """Stored cron overrides by schedule entry key ('reaper' → '5 * * * *' or 'off')."""
    rows = ConfigSetting.objects.filter(key__startswith="schedule:").values_list("key", "value")
    return {key.split(":", 1)[1]: str(value) for key, value in rows}


def literal_count(pattern: str) -> int:
    """Specificity of a glob: how many characters are not wildcards (`*`, `?`)."""
    return sum(1 for ch in pattern if ch not in "*?")


def pattern_rules() -> list[tuple[str, int]]:
    """(pattern, team id), most specific first; the order team_for_model tries them in."""
    return rules_sorted(list(ModelPattern.objects.values_list("pattern", "team_id")))


def rules_sorted(rows: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """(pattern, team id) rows, most specific first (most literal characters, then longest, then by name)."""
    return sorted(rows, key=lambda r: (-literal_count(r[0]), -len(r[0]), r[0]))


def pattern_owner(model_name: str, rules: list[tuple[str, int]]) -> int | None:
    """The team id of the most specific pattern matching `model_name` (case-sensitive), or None."""
    for pattern, team_id in rules:
        if fnmatch.fnmatchcase(model_name, pattern):
            return team_id
    return None
