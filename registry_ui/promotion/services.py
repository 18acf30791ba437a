"""Alias changes (make challenger, promote, roll back, repair) behind the gate and the per-model
lock, the alias history, and reconciliation with changes made directly in MLflow.

Every change: permission → lock → read live aliases → optimistic check against what the user saw →
plan → gate (promote) → apply the moves in MLflow one by one → one audit event plus alias-history
rows in one transaction. A failure part-way is recorded as outcome "partial" with what was applied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from mlopsadmin import policy
from mlopsadmin.core.audit import actor_label, audit_record
from mlopsadmin.core.errors import Conflict, DomainError, InvalidInput, RuleViolation
from mlopsadmin.core.selectors import team_for_model
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.policy import Action
from registry_ui.promotion import plans, selectors
from registry_ui.promotion.gate import GateResult
from registry_ui.promotion.locking import model_lock
from registry_ui.promotion.models import AliasEvent, AliasState, GatePolicy

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 256
MAX_REASON_LENGTH = 2000
SYSTEM_RECONCILER = "system:alias-reconcile"

# Called with the number of MLflow steps applied so far, after each step (fault-injection point for tests).
step_observers: list[Callable[[int], None]] = []


# --- Errors that carry the state the caller needs ---------------------------------------------
class StaleAliases(Conflict):
    def __init__(self, model_name: str, expected: dict[str, str], live: dict[str, str]) -> None:
        super().__init__(
            f"The aliases changed since you looked: {model_name} now has {plans.describe_state(live)} "
            f"(you saw {plans.describe_state(expected)}). Nothing was changed; review and try again."
        )
        self.extra = {"reason": "stale", "aliases": live, "expected": expected}


class GateFailed(RuleViolation):
    def __init__(self, gate: GateResult) -> None:
        reasons = gate.reasons()
        super().__init__("The validation gate blocked the promotion: " + " ".join(reasons))
        self.gate = gate
        self.extra = {"reasons": reasons, "gate": gate.as_json()}


class PartialChange(DomainError):
    status = 502
    title = "MLflow failed part-way: only some alias changes were applied"

    def __init__(self, result: ChangeResult) -> None:
        applied = "; ".join(result.applied) or "nothing"
        missing = "; ".join(result.not_applied)
        super().__init__(
            f"MLflow failed during the {result.action} of {result.model_name}: {result.error}. "
            f"Applied: {applied}. NOT applied: {missing}. The aliases may be inconsistent; "
            f"use Repair on the aliases page."
        )
        self.result = result
        self.extra = {"applied": result.applied, "not_applied": result.not_applied, "outcome": "partial"}


@dataclass
class ChangeResult:
    action: str
    model_name: str
    before: dict[str, str]
    after: dict[str, str]
    applied: list[str] = field(default_factory=list)
    not_applied: list[str] = field(default_factory=list)
    gate: dict[str, Any] | None = None
    overridden: bool = False
    outcome: str = "ok"
    error: str = ""
    version: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "model": self.model_name,
            "outcome": self.outcome,
            "before": self.before,
            "aliases": self.after,
            "applied": self.applied,
            "not_applied": self.not_applied,
            "gate": self.gate,
            "gate_overridden": self.overridden,
            "version": self.version,
        }


# --- Input checks ------------------------------------------------------------------------------
def _clean_name(model_name: str) -> str:
    if not model_name or len(model_name) > MAX_NAME_LENGTH or any(ord(c) < 32 for c in model_name):
        raise InvalidInput("Not a valid registered model name.")
    return model_name


def _clean_version(version: str | int | None) -> str | None:
    if version is None or version == "":
        return None
    text = str(version).strip().lstrip("v")
    if not text.isdigit() or len(text) > 9:
        raise InvalidInput(f"Not a model version number: {str(version)[:20]!r}.")
    return str(int(text))


def _clean_reason(reason: str, *, required: bool, what: str) -> str:
    reason = (reason or "").strip()
    if "\x00" in reason:
        raise InvalidInput(f"The {what} contains a NUL character.")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(f"The {what} is longer than {MAX_REASON_LENGTH} characters.")
    if required and not reason:
        raise InvalidInput(f"A {what} is required.")
    return reason


def _team_key(model_name: str) -> tuple[Any, str]:
    team = team_for_model(model_name)
    return team, (team.name if team else "")


# --- Applying a plan ------------------------------------------------------------------------------
def _steps(model_name: str, plan: plans.Plan) -> list[tuple[str, Callable[[], None]]]:
    steps: list[tuple[str, Callable[[], None]]] = []
    for move in plan.moves:
        if move.to_version is None:
            steps.append((move.describe(), lambda a=move.alias: mlf.delete_model_alias(model_name, a)))
        else:
            steps.append(
                (move.describe(), lambda a=move.alias, v=move.to_version: mlf.set_model_alias(model_name, a, v))
            )
    for version, key, value in plan.tags:
        steps.append(
            (f"tag v{version} {key}", lambda v=version, k=key, x=value: mlf.set_model_version_tag(model_name, v, k, x))
        )
    return steps


def _apply(model_name: str, plan: plans.Plan) -> tuple[list[str], list[str], mlf.MlflowError | None]:
    applied: list[str] = []
    steps = _steps(model_name, plan)
    for index, (label, step) in enumerate(steps):
        try:
            for observer in list(step_observers):
                observer(index)
            step()
        except mlf.MlflowError as exc:
            logger.warning("alias change of %s failed at step %d (%s): %s", model_name, index, label, exc)
            return applied, [lbl for lbl, _ in steps[index:]], exc
        applied.append(label)
    return applied, [], None


def _state_after(plan: plans.Plan, applied_count: int) -> dict[str, str]:
    partial = plans.Plan(plan.action, plan.before, plan.moves[:applied_count])
    return partial.after


def _record_external(model_name: str, live: dict[str, str]) -> int:
    """Compare live aliases with the last known state; record differences as external changes."""
    state = AliasState.objects.filter(model_name=model_name).first()
    if state is None:
        AliasState.objects.create(model_name=model_name, aliases=live)  # first sight: the baseline
        return 0
    known = plans.normalise(state.aliases or {})
    if known == live:
        return 0
    now = timezone.now()
    changed = sorted(a for a in set(known) | set(live) if known.get(a) != live.get(a))
    with transaction.atomic():
        for alias in changed:
            AliasEvent.objects.create(
                model_name=model_name,
                alias=alias,
                from_version=known.get(alias, ""),
                to_version=live.get(alias, ""),
                action="external",
                actor_name="external (directly in MLflow)",
                occurred_at=now,
                source=AliasEvent.SOURCE_EXTERNAL,
                reason="Detected by reconciliation: changed outside mlopsadmin.",
            )
        state.aliases, state.updated_at = live, now
        state.save(update_fields=["aliases", "updated_at"])
        audit_record(
            actor=SYSTEM_RECONCILER,
            action="model.alias_external_change",
            target_kind="model",
            target_id=model_name,
            team=_team_key(model_name)[1],
            before={"aliases": known},
            after={"aliases": live, "changed": changed},
            reason="Alias change made outside mlopsadmin (directly in MLflow).",
        )
    return len(changed)


def _record_change(
    *, actor: Any, plan: plans.Plan, result: ChangeResult, team: str, audit_action: str, reason: str
) -> None:
    now = timezone.now()
    user = actor if actor is not None and not isinstance(actor, str) else None
    with transaction.atomic():
        for move in plan.moves[: len([m for m in result.applied if m.startswith("@")])]:
            AliasEvent.objects.create(
                model_name=result.model_name,
                alias=move.alias,
                from_version=move.from_version or "",
                to_version=move.to_version or "",
                action=plan.action,
                actor=user,
                actor_name=actor_label(actor)[:150],
                occurred_at=now,
                reason=reason,
                gate=result.gate,
                outcome=result.outcome,
            )
        AliasState.objects.update_or_create(
            model_name=result.model_name, defaults={"aliases": result.after, "updated_at": now}
        )
        audit_record(
            actor=actor,
            action=audit_action,
            target_kind="model",
            target_id=result.model_name,
            team=team,
            before={"aliases": result.before},
            after={
                "aliases": result.after,
                "version": result.version,
                "applied": result.applied,
                "not_applied": result.not_applied,
                "gate": result.gate,
                "gate_overridden": result.overridden,
                "error": result.error or None,
            },
            reason=reason,
            outcome=result.outcome,
        )


def _change(
    *,
    model_name: str,
    actor: Any,
    action: Action,
    expected: dict[str, str] | None,
    build: Callable[[dict[str, str]], plans.Plan],
    audit_action: str,
    reason: str = "",
    override_reason: str = "",
) -> ChangeResult:
    model_name = _clean_name(model_name)
    team, team_key = _team_key(model_name)
    policy.require(actor, action, team=team)
    with model_lock(model_name):
        live = selectors.live_aliases(model_name)
        _record_external(model_name, live)
        if expected is not None and plans.normalise(expected) != live:
            raise StaleAliases(model_name, plans.normalise(expected), live)
        plan = build(live)
        gate: GateResult | None = None
        overridden = False
        if plan.action == "promote":
            assert plan.source_version is not None
            gate = selectors.gate_check(model_name=model_name, aliases=live, version=plan.source_version)
            if not gate.passed:
                if not override_reason:
                    raise GateFailed(gate)
                policy.require(actor, Action.GATE_OVERRIDE, team=team)
                overridden = True
        applied, not_applied, error = _apply(model_name, plan)
        moved = len([a for a in applied if a.startswith("@")])
        if not applied and error is not None:
            raise error  # nothing changed: the caller sees MLflow's own error (503 when it is down)
        result = ChangeResult(
            action=plan.action,
            model_name=model_name,
            before=live,
            after=_state_after(plan, moved),
            applied=applied,
            not_applied=not_applied,
            gate=gate.as_json() if gate else None,
            overridden=overridden,
            outcome="partial" if error else "ok",
            error=str(error or ""),
            version=plan.source_version,
        )
        if overridden:
            audit_action = audit_action + "_gate_override"
            reason = override_reason + (f" | {reason}" if reason else "")
        _record_change(actor=actor, plan=plan, result=result, team=team_key, audit_action=audit_action, reason=reason)
    if result.outcome == "partial":
        raise PartialChange(result)
    return result


# --- Public services ------------------------------------------------------------------------------
def alias_make_challenger(
    *, model_name: str, version: str | int, actor: Any, expected: dict[str, str] | None = None
) -> ChangeResult:
    clean = _clean_version(version)
    if clean is None:
        raise InvalidInput("Choose a version to make @challenger.")

    def build(live: dict[str, str]) -> plans.Plan:
        mlf.get_model_version(model_name, clean)  # must exist
        return plans.plan_challenger(live, clean)

    return _change(
        model_name=model_name,
        actor=actor,
        action=Action.ALIAS_CHALLENGER,
        expected=expected,
        build=build,
        audit_action="model.alias_challenger",
    )


def alias_promote(
    *,
    model_name: str,
    actor: Any,
    version: str | int | None = None,
    expected: dict[str, str] | None = None,
    override_reason: str = "",
) -> ChangeResult:
    clean = _clean_version(version)
    override_reason = _clean_reason(override_reason, required=False, what="override reason")
    return _change(
        model_name=model_name,
        actor=actor,
        action=Action.ALIAS_PROTECTED,
        expected=expected,
        build=lambda live: plans.plan_promote(live, clean),
        audit_action="model.promote",
        override_reason=override_reason,
    )


def alias_rollback(*, model_name: str, actor: Any, reason: str, expected: dict[str, str] | None = None) -> ChangeResult:
    reason = _clean_reason(reason, required=True, what="rollback reason")
    now_iso = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    return _change(
        model_name=model_name,
        actor=actor,
        action=Action.ALIAS_PROTECTED,
        expected=expected,
        build=lambda live: plans.plan_rollback(live, reason=reason, now_iso=now_iso, actor_name=actor_label(actor)),
        audit_action="model.rollback",
        reason=reason,
    )


def alias_repair(*, model_name: str, actor: Any, expected: dict[str, str] | None = None) -> ChangeResult:
    def build(live: dict[str, str]) -> plans.Plan:
        existing = {v.version for v in mlf.iter_model_versions(name=model_name)}
        return plans.plan_repair(live, existing)

    return _change(
        model_name=model_name,
        actor=actor,
        action=Action.ALIAS_PROTECTED,
        expected=expected,
        build=build,
        audit_action="model.alias_repair",
        reason="Repair of inconsistent aliases",
    )


def alias_change(
    *,
    action: str,
    model_name: str,
    actor: Any,
    version: str | None = None,
    reason: str = "",
    expected: dict[str, str] | None = None,
    override_reason: str = "",
) -> ChangeResult:
    """Dispatch by action name (the page's forms and the API share this)."""
    if action == "challenger":
        return alias_make_challenger(model_name=model_name, version=version or "", actor=actor, expected=expected)
    if action == "promote":
        return alias_promote(
            model_name=model_name, actor=actor, version=version, expected=expected, override_reason=override_reason
        )
    if action == "rollback":
        return alias_rollback(model_name=model_name, actor=actor, reason=reason, expected=expected)
    if action == "repair":
        return alias_repair(model_name=model_name, actor=actor, expected=expected)
    raise InvalidInput(f"Unknown alias action {action[:40]!r}.")


# --- Reconciliation -------------------------------------------------------------------------------
@dataclass
class ReconcileReport:
    models_checked: int = 0
    changes: int = 0
    skipped: list[str] = field(default_factory=list)


def _reconcile_one(model_name: str, report: ReconcileReport) -> None:
    try:
        with model_lock(model_name, wait=2.0):
            live = selectors.live_aliases(model_name)
            report.changes += _record_external(model_name, live)
            report.models_checked += 1
    except (Conflict, mlf.MlflowNotFound):
        report.skipped.append(model_name)


def alias_reconcile(*, model_name: str | None = None) -> ReconcileReport:
    """Record alias changes made outside mlopsadmin, for one model or all of them."""
    report = ReconcileReport()
    if model_name is not None:
        _reconcile_one(_clean_name(model_name), report)
        return report
    known = {s.model_name: plans.normalise(s.aliases or {}) for s in AliasState.objects.all()}
    for model in mlf.iter_registered_models():
        if known.get(model.name) == plans.normalise(model.aliases):
            report.models_checked += 1
            continue
        _reconcile_one(model.name, report)
    logger.info(
        "alias reconciliation: %d models checked, %d external changes, %d skipped",
        report.models_checked,
        report.changes,
        len(report.skipped),
    )
    return report


# --- Gate policy -----------------------------------------------------------------------------------
def gate_policy_update(
    *, model_name: str, actor: Any, metric: str, threshold: float, max_drop_pct: float, require_approval: bool
) -> GatePolicy:
    model_name = _clean_name(model_name)
    team, team_key = _team_key(model_name)
    policy.require(actor, Action.MODEL_SETTINGS_EDIT, team=team)
    metric = (metric or "").strip()
    if len(metric) > 250 or any(ord(c) < 32 for c in metric):
        raise InvalidInput("Not a valid metric name.")
    if not (0 <= max_drop_pct <= 100):
        raise InvalidInput("The allowed drop must be between 0 and 100 %.")
    before = selectors.gate_config_for(model_name)
    with transaction.atomic():
        gate_policy, _ = GatePolicy.objects.update_or_create(
            model_name=model_name,
            defaults={
                "metric": metric,
                "threshold": threshold,
                "max_drop_pct": max_drop_pct,
                "require_approval": require_approval,
                "updated_at": timezone.now(),
                "updated_by": actor_label(actor)[:150],
            },
        )
        after = selectors.gate_config_for(model_name)
        audit_record(
            actor=actor,
            action="model.gate_policy_edit",
            target_kind="model",
            target_id=model_name,
            team=team_key,
            before=before.__dict__,
            after=after.__dict__,
        )
    return gate_policy
