"""Reads for promotion: approval (via the registry feature), live alias state, the alias history and the
confirmation dialog's preview (the gate's reads: gate_reads.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mlopsadmin import policy
from mlopsadmin.core.errors import InvalidInput, NotFound, RuleViolation
from mlopsadmin.core.selectors import team_for_model
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.approvals import selectors as approval_selectors
from registry_ui.promotion.gate import GateResult
from registry_ui.promotion.gate_reads import gate_check, rollback_target_refusal
from registry_ui.promotion.models import AliasEvent
from registry_ui.promotion.plans import (
    Plan,
    find_problems,
    normalise,
    plan_challenger,
    plan_promote,
    plan_repair,
    plan_rollback,
    promote_source,
    state_token,
    unavailable_actions,
)


def version_is_approved(*, model_name: str, version: str) -> bool:
    """Approval state comes from the registry feature's approval workflow."""
    return approval_selectors.version_is_approved(model_name=model_name, version=str(version))


def live_aliases(model_name: str) -> dict[str, str]:
    return normalise(mlf.get_registered_model(model_name).aliases)


@dataclass(frozen=True)
class AliasOverview:
    model: mlf.RegisteredModel
    aliases: dict[str, str]
    versions: list[mlf.ModelVersion]  # newest first
    problems: list[str]


def alias_overview(model_name: str) -> AliasOverview:
    model = mlf.get_registered_model(model_name)
    versions = sorted(mlf.iter_model_versions(name=model_name), key=lambda v: int(v.version), reverse=True)
    aliases = normalise(model.aliases)
    problems = find_problems(aliases, {v.version for v in versions})
    return AliasOverview(model, aliases, versions, [why for _, why in problems])


def alias_permissions(user: Any, model_name: str, team: Any = None) -> dict[str, bool]:
    """What the user may do on this model's aliases (policy.py decides): can_protected (promote, roll
    back, repair), can_challenger, can_override (a failed gate), can_edit_policy (the gate form). `team`: the
    owning team when the caller has it."""
    team = team if team is not None else team_for_model(model_name)
    return {
        "can_protected": policy.can(user, policy.Action.ALIAS_PROTECTED, team=team),
        "can_challenger": policy.can(user, policy.Action.ALIAS_CHALLENGER, team=team),
        "can_override": policy.can(user, policy.Action.GATE_OVERRIDE, team=team),
        "can_edit_policy": policy.can(user, policy.Action.MODEL_SETTINGS_EDIT, team=team),
    }


def promotion_panel(
    user: Any, model_name: str, aliases: Mapping[str, object], versions: Iterable[str], team: Any = None
) -> dict[str, Any]:
    """Context of templates/registry_ui/_promotion_panel.html: the permissions above, `unavailable`
    ({action: why it cannot run now}) so a button shows only when its dialog would offer a plan, and
    `version_options` [(version, label)] for the Version dropdown, labels naming the version's
    aliases from the state given (`aliases` {alias: version}; `versions`: version numbers, newest first)."""
    live = normalise(aliases)
    by_version: dict[str, list[str]] = {}
    for alias, version in live.items():
        by_version.setdefault(version, []).append(f"@{alias}")
    options = [(v, f"v{v}" + (f" ({', '.join(by_version[v])})" if v in by_version else "")) for v in versions]
    return {
        **alias_permissions(user, model_name, team),
        "unavailable": unavailable_actions(live),
        "version_options": options,
    }


def alias_history(model_name: str, *, limit: int = 200) -> list[AliasEvent]:
    """The alias history of the model now registered under `model_name`, newest first: when the name was
    deleted and re-created in MLflow (registry_ui/promotion/identity.py) it starts at the `recreated` row,
    the deleted model's moves stay in the audit log."""
    events = AliasEvent.objects.filter(model_name=model_name)
    start = events.filter(action="recreated").order_by("-id").values_list("id", flat=True).first()
    if start is not None:
        events = events.filter(id__gte=start)
    return list(events.order_by("-occurred_at", "-id")[:limit])


@dataclass(frozen=True)
class Preview:
    """What the confirmation dialog shows: the moves the service would make now, and the gate."""

    action: str
    aliases: dict[str, str]
    token: str
    plan: Plan | None
    gate: GateResult | None
    refusal: str  # why the action cannot be done now (empty when it can)


def alias_change_preview(*, model_name: str, action: str, version: str | None) -> Preview:
    aliases = live_aliases(model_name)
    plan: Plan | None = None
    gate: GateResult | None = None
    refusal = ""
    try:
        if action == "challenger":
            if not version:
                raise RuleViolation("Choose a version.")
            mlf.get_model_version(model_name, version)
            plan = plan_challenger(aliases, version)
        elif action == "promote":
            source = promote_source(aliases, version)
            plan = plan_promote(aliases, version, mlf.get_model_version(model_name, source).tags if source else None)
            assert plan.source_version is not None
            gate = gate_check(model_name=model_name, aliases=aliases, version=plan.source_version)
        elif action == "rollback":
            plan = plan_rollback(aliases, reason="(your reason)", now_iso="(now)", actor_name="(you)")
            refusal = rollback_target_refusal(model_name, str(plan.source_version))
            plan = None if refusal else plan
        elif action == "repair":
            plan = plan_repair(aliases, {v.version for v in mlf.iter_model_versions(name=model_name)})
        else:
            raise NotFound(f"Unknown alias action {action[:40]!r}.")
    except (RuleViolation, InvalidInput, mlf.MlflowNotFound) as exc:
        refusal = str(exc)
    return Preview(action, aliases, state_token(aliases), plan, gate, refusal)
