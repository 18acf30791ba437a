"""The live configuration as "units" (one key per thing a change is audited on) and the writers that
set one unit. Unit keys: 'team:<name>', 'ownership:<model>', 'user:<username>', 'naming.experiments',
'naming.models', 'required_run_tags', 'required_version_metadata', 'gate.default', 'gate.team:<team>',
'gate.model:<model>', 'metrics', 'cleanup', 'schedule:<entry>', 'notifications', 'environments'. Values are plain JSON,
normalised (sorted where order carries no meaning) so a file and the database compare equal when they agree."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from django.utils import timezone

from catalog.models import NamingConvention
from configuration import selectors
from configuration.models import ConfigSetting, ModelPattern
from mlopsadmin import policy
from mlopsadmin.core.models import Membership, ModelOwnership, Team
from mlopsadmin.schedules import ENTRIES
from registry_ui.models import NamingWord, NamingWordKind, RequiredMetadataKey
from registry_ui.promotion.models import GatePolicy

Units = dict[str, Any]
GATE_FIELDS = ("metric", "threshold", "max_drop_pct", "require_approval")
MODEL_GATE_FIELDS = (*GATE_FIELDS, "direction", "count_imported_approvals")
MODEL_GATE_DEFAULTS = {
    "metric": "",
    "threshold": 0.80,
    "max_drop_pct": 2.0,
    "require_approval": True,
    "direction": "",
    "count_imported_approvals": True,
}


def words(values: list[str]) -> list[str]:
    return sorted({str(v).strip().lower() for v in values if str(v).strip()})


def names(values: list[str]) -> list[str]:
    return sorted({str(v).strip() for v in values if str(v).strip()})


def live_units() -> Units:
    """Everything the configuration file can hold, read from the database."""
    units: Units = {}
    patterns: dict[int, list[str]] = {}
    for pattern, team_id in ModelPattern.objects.values_list("pattern", "team_id"):
        patterns.setdefault(team_id, []).append(pattern)
    for team in Team.objects.all():
        units[f"team:{team.name}"] = {
            "display_name": team.display_name,
            "experiment_prefix": team.experiment_prefix,
            "model_patterns": sorted(patterns.get(team.pk, [])),
            "model_regex": team.model_name_pattern,
        }
    for model_name, team_name in ModelOwnership.objects.values_list("model_name", "team__name"):
        units[f"ownership:{model_name}"] = team_name
    for user in User.objects.prefetch_related("groups", "memberships__team").order_by("username"):
        members = list(user.memberships.all())
        units[f"user:{user.username}"] = {
            "email": user.email,
            "active": user.is_active,
            "roles": sorted(g.name for g in user.groups.all()),
            "teams": sorted(m.team.name for m in members if m.can_edit),
            "read_only_teams": sorted(m.team.name for m in members if not m.can_edit),
        }
    convention, _ = NamingConvention.objects.get_or_create(pk=1)
    units["naming.experiments"] = {
        "segment_pattern": convention.segment_pattern,
        "reserved_words": words(convention.reserved_words or []),
    }
    units["required_run_tags"] = list(dict.fromkeys(str(t) for t in convention.required_tags or []))
    by_kind: dict[str, list[str]] = {NamingWordKind.ALGORITHM: [], NamingWordKind.RESERVED: []}
    for word, kind in NamingWord.objects.values_list("word", "kind"):
        by_kind.setdefault(kind, []).append(word)
    units["naming.models"] = {
        "algorithm_words": words(by_kind[NamingWordKind.ALGORITHM]),
        "reserved_words": words(by_kind[NamingWordKind.RESERVED]),
    }
    units["required_version_metadata"] = [
        {"key": k, "description": d} for k, d in RequiredMetadataKey.objects.values_list("key", "description")
    ]
    units["metrics"] = selectors.metric_names()
    units["gate.default"] = selectors.gate_default()
    for row in ConfigSetting.objects.filter(key__startswith="gate.team:"):
        units[row.key] = {k: row.value[k] for k in GATE_FIELDS if k in row.value}
    for policy_row in GatePolicy.objects.all():
        units[f"gate.model:{policy_row.model_name}"] = {
            "metric": policy_row.metric,
            "threshold": policy_row.threshold,
            "max_drop_pct": policy_row.max_drop_pct,
            "require_approval": policy_row.require_approval,
            "direction": policy_row.direction,
            "count_imported_approvals": policy_row.count_imported_approvals,
        }
    cleanup = selectors.cleanup_defaults()
    units["cleanup"] = {
        "older_than_days": int(cleanup["older_than_days"]),
        "statuses": sorted(cleanup["statuses"]),
        "keep_values": words(cleanup["keep_values"]),
    }
    overrides = selectors.schedule_overrides()
    for entry in ENTRIES:
        units[f"schedule:{entry.key}"] = overrides.get(entry.key, entry.cron)
    units["notifications"] = {"emails": names(selectors.notification_targets()["emails"])}
    units["environments"] = selectors.environments()
    return units


# --- writers: each sets one unit to `value` (None: remove it) -------------------------------------
def _setting(key: str, value: Any, default: Any, actor_name: str) -> None:
    if value is None or value == default:
        ConfigSetting.objects.filter(key=key).delete()
    else:
        ConfigSetting.objects.update_or_create(
            key=key, defaults={"value": value, "updated_at": timezone.now(), "updated_by": actor_name}
        )


def write_team(name: str, value: dict[str, Any] | None) -> None:
    if value is None:
        Team.objects.filter(name=name).delete()
        return
    team = Team.objects.filter(name=name).first() or Team(name=name)
    team.display_name = value["display_name"]
    team.experiment_prefix = value["experiment_prefix"]
    team.model_name_pattern = value["model_regex"]
    team.save()
    ModelPattern.objects.filter(team=team).exclude(pattern__in=value["model_patterns"]).delete()
    for pattern in value["model_patterns"]:
        ModelPattern.objects.update_or_create(pattern=pattern, defaults={"team": team})


def write_ownership(model_name: str, team_name: str | None) -> None:
    if team_name is None:
        ModelOwnership.objects.filter(model_name=model_name).delete()
    else:
        ModelOwnership.objects.update_or_create(
            model_name=model_name, defaults={"team": Team.objects.get(name=team_name)}
        )


def write_user(username: str, value: dict[str, Any]) -> None:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username)
        user.set_unusable_password()  # people sign in after an admin sets a password (or through SSO)
    user.email = value["email"]
    user.is_active = value["active"]
    user.is_staff = policy.ROLE_ADMIN in value["roles"] or user.is_superuser
    user.save()
    user.groups.set([Group.objects.get_or_create(name=role)[0] for role in value["roles"]])
    wanted = {name: True for name in value["teams"]} | {name: False for name in value["read_only_teams"]}
    user.memberships.exclude(team__name__in=wanted).delete()
    for team in Team.objects.filter(name__in=wanted):
        Membership.objects.update_or_create(user=user, team=team, defaults={"can_edit": wanted[team.name]})


def write_unit(key: str, value: Any, actor_name: str) -> None:
    """Set one unit (None removes it). Runs inside apply's transaction."""
    kind, _, name = key.partition(":")
    if kind == "team":
        write_team(name, value)
    elif kind == "ownership":
        write_ownership(name, value)
    elif kind == "user":
        write_user(name, value)
    elif key in ("naming.experiments", "required_run_tags"):
        convention, _ = NamingConvention.objects.get_or_create(pk=1)
        if key == "required_run_tags":
            convention.required_tags = value
        else:
            convention.segment_pattern, convention.reserved_words = value["segment_pattern"], value["reserved_words"]
        convention.updated_at = timezone.now()
        convention.save()
    elif key == "naming.models":
        wanted = {w: NamingWordKind.ALGORITHM for w in value["algorithm_words"]}
        wanted |= {w: NamingWordKind.RESERVED for w in value["reserved_words"]}
        NamingWord.objects.exclude(word__in=wanted).delete()
        for word, word_kind in wanted.items():
            NamingWord.objects.update_or_create(word=word, defaults={"kind": word_kind})
    elif key == "required_version_metadata":
        RequiredMetadataKey.objects.all().delete()
        for position, item in enumerate(value, start=1):
            RequiredMetadataKey.objects.create(key=item["key"], description=item["description"], position=position)
    elif kind == "gate.model":
        if value is None:
            GatePolicy.objects.filter(model_name=name).delete()
        else:
            GatePolicy.objects.update_or_create(
                model_name=name, defaults={**value, "updated_at": timezone.now(), "updated_by": actor_name}
            )
    elif key == "gate.default":
        _setting(key, value, selectors.gate_builtin_default(), actor_name)
    elif key == "metrics":
        _setting(key, value, selectors.metric_names_builtin_default(), actor_name)
    elif kind == "gate.team":
        _setting(key, value or None, None, actor_name)
    elif key == "cleanup":
        builtin = selectors.cleanup_builtin_default()
        _setting(key, value, {**builtin, "statuses": sorted(builtin["statuses"])}, actor_name)
    elif kind == "schedule":
        entry = next(e for e in ENTRIES if e.key == name)
        _setting(key, value, entry.cron, actor_name)
    elif key == "notifications":
        _setting(key, value, {"emails": names(selectors.notification_builtin_default()["emails"])}, actor_name)
    elif key == "environments":
        _setting(key, value, {}, actor_name)
    else:  # pragma: no cover - the parser produces only the keys above
        raise ValueError(f"unknown configuration unit {key!r}")
