"""Alias changes (make challenger, promote, roll back, repair) behind the gate and the per-model
lock, reconciliation with changes made directly in MLflow, and the gate policy.

The pipeline every change goes through (deadline, intent, writes, read-back, outcome) is in `changes`;
what it records is in `recording`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from mlopsadmin import policy
from mlopsadmin.audit.services import actor_label, audit_record
from mlopsadmin.core.errors import Conflict, InvalidInput, RuleViolation
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.policy import Action
from registry_ui.promotion import gate_reads, identity, plans, recording
from registry_ui.promotion.change_outcomes import (  # noqa: F401 - the errors callers know from here
    ChangeFailed,
    ChangeResult,
    GateFailed,
    OutcomeUnknown,
    PartialChange,
    StaleAliases,
)
from registry_ui.promotion.changes import (  # noqa: F401 - the hooks callers know from here
    change_run,
    clean_model_name,
    clean_reason,
    clean_version,
    model_team,
    schedule_reconcile,
)
from registry_ui.promotion.locking import model_lock
from registry_ui.promotion.models import AliasState, GatePolicy
from registry_ui.promotion.recording import SYSTEM_RECONCILER  # noqa: F401 - re-exported

logger = logging.getLogger(__name__)


# --- Public services ------------------------------------------------------------------------------
def alias_make_challenger(
    *, model_name: str, version: str | int, actor: Any, expected: dict[str, str] | None = None
) -> ChangeResult:
    clean = clean_version(version)
    if clean is None:
        raise InvalidInput("Choose a version to make @challenger.")

    def build(live: dict[str, str]) -> plans.Plan:
        mlf.get_model_version(model_name, clean)  # must exist
        return plans.plan_challenger(live, clean)

    return change_run(
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
    clean = clean_version(version)
    override_reason = clean_reason(override_reason, required=False, what="override reason")
    return change_run(
        model_name=model_name,
        actor=actor,
        action=Action.ALIAS_PROTECTED,
        expected=expected,
        build=lambda live, tags=None: plans.plan_promote(
            live, clean, tags if tags is not None else _source_tags(model_name, plans.promote_source(live, clean))
        ),
        audit_action="model.promote",
        override_reason=override_reason,
        gate_version=clean,
    )


def _source_tags(model_name: str, version: str | None) -> dict[str, str]:
    """The MLflow tags of the version a promote would make @champion ({} when none or it does not exist:
    the gate then refuses it)."""
    if not version:
        return {}
    try:
        return dict(mlf.get_model_version(model_name, version).tags)
    except mlf.MlflowNotFound:
        return {}


def alias_rollback(*, model_name: str, actor: Any, reason: str, expected: dict[str, str] | None = None) -> ChangeResult:
    """@champion back to @previous-champion (plans.plan_rollback), refused (RuleViolation, nothing moved) when
    that version's source run is deleted, purged or in a deleted experiment (gate_reads.rollback_target_refusal)."""
    reason = clean_reason(reason, required=True, what="rollback reason")
    now_iso = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    def build(live: dict[str, str]) -> plans.Plan:
        plan = plans.plan_rollback(live, reason=reason, now_iso=now_iso, actor_name=actor_label(actor))
        refusal = gate_reads.rollback_target_refusal(model_name, str(plan.source_version))
        if refusal:
            raise RuleViolation(refusal)
        return plan

    return change_run(
        model_name=model_name,
        actor=actor,
        action=Action.ALIAS_PROTECTED,
        expected=expected,
        build=build,
        audit_action="model.rollback",
        reason=reason,
    )


def alias_repair(*, model_name: str, actor: Any, expected: dict[str, str] | None = None) -> ChangeResult:
    def build(live: dict[str, str]) -> plans.Plan:
        existing = {v.version for v in mlf.iter_model_versions(name=model_name)}
        return plans.plan_repair(live, existing)

    return change_run(
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
    baselines: int = 0
    skipped: list[str] = field(default_factory=list)


def _reconcile_one(model_name: str, report: ReconcileReport, hint: tuple[str, str | None] | None = None) -> None:
    try:
        with model_lock(model_name, wait=2.0):
            model = mlf.get_registered_model(model_name)
            live = plans.normalise(model.aliases)
            identity.model_recreated(model_name, model.creation_timestamp)  # a new model: a new history
            recording.intents_resolve(model_name, live)
            first_sight = not AliasState.objects.filter(model_name=model_name).exists() and not (
                recording.created_while_watched(model.creation_timestamp)  # no baseline: changes since creation
            )
            report.changes += recording.record_external(model_name, live, hint, model.creation_timestamp)
            report.baselines += int(first_sight)
            report.models_checked += 1
    except (Conflict, mlf.MlflowNotFound):
        report.skipped.append(model_name)


def alias_reconcile(*, model_name: str | None = None, hint: tuple[str, str | None] | None = None) -> ReconcileReport:
    """Record alias changes made outside mlopsadmin, for one model or all of them. `hint` (alias, new
    version or None when deleted) is what an MLflow webhook reported for `model_name`: it lets the first
    change of a model never seen before be recorded, not only taken as the baseline."""
    report = ReconcileReport()
    if model_name is not None:
        _reconcile_one(clean_model_name(model_name), report, hint)
        return report
    recording.watch_start()  # the first sweep over every model: the install / first-sync baseline
    for name in recording.models_with_open_intents():  # unknown outcomes first, even if nothing moved
        _reconcile_one(name, report)
    known = {s.model_name: (plans.normalise(s.aliases or {}), s.model_created) for s in AliasState.objects.all()}
    for model in mlf.iter_registered_models():
        if model.name in report.skipped:
            continue
        if known.get(model.name) == (plans.normalise(model.aliases), model.creation_timestamp):
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


WEBHOOK_FOLLOW_UP_SECONDS = 10


def alias_reconcile_reported(*, model_name: str, hint: tuple[str, str | None] | None) -> ReconcileReport | None:
    """What an MLflow webhook delivery asks for: reconcile `model_name` now with what MLflow reported
    (`hint`). When that cannot be done now (MLflow does not answer, the model's lock is held), a worker
    does it shortly with the same hint (schedule_reconcile) and None is returned; the scheduled sweep,
    which knows no hint, would take the change of a model never seen as its baseline (issue 21)."""
    try:
        report = alias_reconcile(model_name=model_name, hint=hint)
    except mlf.MlflowError as exc:
        logger.warning("webhook reconciliation of %r deferred: %s", model_name, exc)
        report = None
    if report is None or report.skipped:
        schedule_reconcile(clean_model_name(model_name), hint=hint, countdown=WEBHOOK_FOLLOW_UP_SECONDS)
        return None
    return report


# --- Gate policy -----------------------------------------------------------------------------------
def gate_policy_update(
    *,
    model_name: str,
    actor: Any,
    metric: str,
    threshold: float,
    max_drop_pct: float,
    require_approval: bool,
    direction: str = "",
    count_imported_approvals: bool = True,
) -> GatePolicy:
    """Save a model's gate policy (audited). direction: "" (from the metric's name), "higher" or "lower"."""
    model_name = clean_model_name(model_name)
    if direction not in ("", "higher", "lower"):
        raise InvalidInput("The metric direction must be empty (by name), 'higher' or 'lower'.")
    team, team_key = model_team(model_name)
    policy.require(actor, Action.MODEL_SETTINGS_EDIT, team=team)
    metric = (metric or "").strip()
    if len(metric) > 250 or any(ord(c) < 32 for c in metric):
        raise InvalidInput("Not a valid metric name.")
    if not (math.isfinite(threshold) and math.isfinite(max_drop_pct)):
        raise InvalidInput("The threshold and the allowed drop must be finite numbers (not NaN or infinity).")
    if not (0 <= max_drop_pct <= 100):
        raise InvalidInput("The allowed drop must be between 0 and 100 %.")
    before = gate_reads.gate_config_for(model_name)
    with transaction.atomic():
        gate_policy, _ = GatePolicy.objects.update_or_create(
            model_name=model_name,
            defaults={
                "metric": metric,
                "threshold": threshold,
                "max_drop_pct": max_drop_pct,
                "require_approval": require_approval,
                "direction": direction,
                "count_imported_approvals": count_imported_approvals,
                "updated_at": timezone.now(),
                "updated_by": actor_label(actor)[:150],
            },
        )
        after = gate_reads.gate_config_for(model_name)
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
