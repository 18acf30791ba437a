"""The alias-change pipeline shared by every action (make challenger, promote, roll back, repair).

Within one deadline (PROMOTION_DEADLINE_SECONDS, shorter than the lock's TTL and the web worker's
timeout): permission → lock → read live aliases → resolve earlier unknown outcomes → optimistic check
against what the user saw → plan → gate (promote) → a `pending` audit event with the planned moves → the
writes, one by one, each with the gateway's timeout → read MLflow back → the outcome (ok, partial, failed,
or unknown when MLflow cannot be read) recorded from what MLflow shows (see `recording`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction

from mlopsadmin import policy, task_queue
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.core.selectors import team_for_model
from mlopsadmin.lib import mlflow_bounded as bounded
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.policy import Action
from notifications import events as notification_events
from registry_ui import validation
from registry_ui.promotion import change_outcomes as outcomes
from registry_ui.promotion import gate_reads, identity, plans, prefetch, recording, seams
from registry_ui.promotion import observed as readback
from registry_ui.promotion.gate import GateResult
from registry_ui.promotion.locking import model_lock

logger = logging.getLogger(__name__)

MAX_REASON_LENGTH = 2000


# --- Input checks ------------------------------------------------------------------------------
def clean_model_name(model_name: str) -> str:
    """The registered model name, checked by the one rule (registry_ui/validation.py)."""
    return validation.model_name(model_name)


def clean_version(version: str | int | None) -> str | None:
    """None when no version was given, else the canonical number (registry_ui/validation.py)."""
    if version is None or version == "":
        return None
    return validation.model_version(version)


def clean_reason(reason: str, *, required: bool, what: str) -> str:
    reason = (reason or "").strip()
    if "\x00" in reason:
        raise InvalidInput(f"The {what} contains a NUL character.")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(f"The {what} is longer than {MAX_REASON_LENGTH} characters.")
    if required and not reason:
        raise InvalidInput(f"A {what} is required.")
    return reason


def model_team(model_name: str) -> tuple[Any, str]:
    """(owning Team or None, its key for audit events)."""
    team = team_for_model(model_name)
    return team, (team.name if team else "")


# --- Applying a plan ------------------------------------------------------------------------------
def _write(fn: Callable[..., None], *args: str) -> Callable[[float], None]:
    """One bounded registry write with its arguments bound; called with the timeout it may take."""
    return lambda timeout: fn(*args, timeout=timeout)


def _steps(model_name: str, plan: plans.Plan) -> list[tuple[str, Callable[[float], None]]]:
    """(label, write(timeout)) for each alias move, then each version tag."""
    steps: list[tuple[str, Callable[[float], None]]] = []
    for move in plan.moves:
        if move.to_version is None:
            steps.append((move.describe(), _write(bounded.delete_model_alias, model_name, move.alias)))
        else:
            steps.append((move.describe(), _write(bounded.set_model_alias, model_name, move.alias, move.to_version)))
    for version, key, value in plan.tags:
        label = plans.tag_label(version, key, value)
        if value is None:
            steps.append((label, _write(bounded.delete_model_version_tag, model_name, version, key)))
        else:
            steps.append((label, _write(bounded.set_model_version_tag, model_name, version, key, value)))
    return steps


def _apply(model_name: str, plan: plans.Plan, deadline: bounded.Deadline) -> tuple[str, bool, bool]:
    """Send the writes in order until one fails or the next one would not fit in the deadline (with the
    read-back reserve). Returns (error text, whether a write's answer was lost: it may still apply,
    whether MLflow refused it for good: 401/403/invalid, not worth retrying)."""
    timeout = float(settings.MLFLOW_REQUEST_TIMEOUT)
    for index, (label, step) in enumerate(_steps(model_name, plan)):
        if deadline.remaining() < timeout + readback.readback_reserve():
            logger.warning("alias change of %s stopped at its deadline before step %d (%s)", model_name, index, label)
            return (
                (
                    f"stopped at the action's deadline ({deadline.seconds:g} s): MLflow answered too slowly, "
                    f"the remaining writes were not sent"
                ),
                False,
                False,
            )
        try:
            for hook in list(seams.before_write):  # test seam: empty in production
                hook(index)
            step(timeout)
        except mlf.MlflowError as exc:
            logger.warning("alias change of %s failed at step %d (%s): %s", model_name, index, label, exc)
            lost = isinstance(exc, mlf.MlflowUnavailable | mlf.MlflowServerError)
            return str(exc), lost, not exc.retryable
    return "", False, False


def _gate(
    *,
    model_name: str,
    actor: Any,
    team: Any,
    plan: plans.Plan,
    live: dict[str, str],
    override: str,
    deadline: Any,
    prefetched: prefetch.GateRuns | None,
    created: int | None,
    local: gate_reads.LocalInputs | None,
) -> tuple[GateResult | None, bool]:
    if plan.action != "promote":
        return None, False
    assert plan.source_version is not None
    mine = local is not None and local.candidate == plan.source_version
    gate = gate_reads.gate_check(
        config=local.config if local is not None else None,
        approval=local.approval if local is not None and mine else None,
        model_name=model_name,
        aliases=live,
        version=plan.source_version,
        deadline=deadline,
        team=team,
        prefetched=prefetched,
        created=created,
    )
    if gate.passed:
        return gate, False
    if not override:
        raise outcomes.GateFailed(gate)
    policy.require(actor, Action.GATE_OVERRIDE, team=team)
    return gate, True


RECONCILE_TASK_NAME = "registry_ui.tasks.alias_reconcile_scheduled"


def schedule_reconcile(model_name: str, *, hint: tuple[str, str | None] | None = None, countdown: float = 30) -> None:
    """Ask a worker to reconcile `model_name` in `countdown` seconds (after the current transaction commits):
    to resolve an unknown or watched outcome, or what an MLflow webhook reported (`hint`, see
    services.alias_reconcile) when it could not be handled at once. The 15-minute schedule is the backstop,
    but it knows no hint: the first change of a model never seen would become part of its baseline."""
    kwargs: dict[str, Any] = {"model_name": model_name}
    if hint is not None:
        kwargs["hint"] = list(hint)

    def send() -> None:
        # By task name (task_queue imports registry_ui.tasks): registry_ui.tasks calls the services, never back.
        try:
            task_queue.send(RECONCILE_TASK_NAME, kwargs=kwargs, countdown=countdown)
        except Exception as exc:  # broker down: the schedule resolves it later
            logger.warning("could not enqueue the reconciliation of %s: %s", model_name, exc)

    transaction.on_commit(send)


def change_run(
    *,
    model_name: str,
    actor: Any,
    action: Action,
    expected: dict[str, str] | None,
    build: Callable[..., plans.Plan],
    audit_action: str,
    reason: str = "",
    override_reason: str = "",
    gate_version: str | None | bool = False,
) -> outcomes.ChangeResult:
    """Run one alias change end to end (see the module docstring). `build` turns the live aliases into
    the plan (raising RuleViolation/InvalidInput when the action makes no sense now; a promotion's `build` also
    takes the candidate's tags when they were read beside the aliases, else None). `gate_version`: for a
    promotion, the version asked for (None: the @challenger), whose gate reads start beside the alias read
    (registry_ui.promotion.prefetch); False for other actions. Raises StaleAliases, GateFailed, LockBusy
    (409), PermissionDenied, MlflowError before anything is written; after the intent is recorded:
    PartialChange (502), ChangeFailed (503) or OutcomeUnknown (503)."""
    model_name = clean_model_name(model_name)
    team, team_key = model_team(model_name)
    policy.require(actor, action, team=team)
    deadline = bounded.Deadline(float(settings.PROMOTION_DEADLINE_SECONDS))
    pool = bounded.pool()
    with model_lock(model_name):
        reading = bounded.send_now(pool, bounded.get_model_state, model_name, timeout=deadline.call_timeout())
        version_hint = None if gate_version is None or gate_version is False else str(gate_version)
        runs = None if gate_version is False else prefetch.start(model_name, version_hint, deadline, pool)
        local = gate_reads.gate_local_inputs(model_name, team, runs.candidate) if runs is not None else None
        known = identity.known_state(model_name)  # under the lock: still true when MLflow has answered
        live, created = reading.result()
        # Re-created in MLflow: a new history. Its state read is passed on unless an open intent moved it.
        recreated, state, read = identity.model_identity(model_name, created, known=(known,))
        if recreated and runs is not None:  # its approvals were just voided: the early read is of the old model
            local = gate_reads.gate_local_inputs(model_name, team, runs.candidate)
        # The state's read said whether the model has open intents: none (the usual case), no query for them.
        resolved = recording.intents_resolve(model_name, live) if not read or identity.has_open_intents(state) else 0
        recording.record_external(
            model_name, live, model_created=created, known_state=(state,) if read and not resolved else None
        )
        if expected is not None and plans.normalise(expected) != live:
            raise outcomes.StaleAliases(model_name, plans.normalise(expected), live)
        gate_runs = runs.result() if runs is not None else None
        if gate_runs is None:
            plan = build(live)
        else:  # a promotion: its plan needs the candidate's tags, read beside the aliases when the guess holds
            plan = build(live, gate_runs.tags_of(plans.promote_source(live, version_hint), live, created))
        gate, overridden = _gate(
            model_name=model_name,
            actor=actor,
            team=team,
            plan=plan,
            live=live,
            override=override_reason,
            deadline=deadline,
            prefetched=gate_runs if plan.action == "promote" else None,
            created=created,
            local=local,
        )
        if deadline.remaining() < float(settings.MLFLOW_REQUEST_TIMEOUT) + readback.readback_reserve():
            raise mlf.MlflowUnavailable(
                f"MLflow answered too slowly to finish the {plan.action} of {model_name} within "
                f"{deadline.seconds:g} s; nothing was changed.",
                operation=plan.action,
            )
        if overridden:
            audit_action = audit_action + "_gate_override"
            reason = override_reason + (f" | {reason}" if reason else "")
        gate_json = gate.as_json() if gate else None
        extra: dict[str, Any] = {
            "version": plan.source_version,
            "gate": gate_json,
            "gate_overridden": overridden,
        }
        intent = recording.intent_open(
            model_name=model_name,
            plan=plan,
            actor=actor,
            team=team_key,
            audit_action=audit_action,
            reason=reason,
            extra=extra,
        )
        error, lost, refused = _apply(model_name, plan, deadline)
        # Every write answered 200: MLflow confirmed each one. After any failure, MLflow is read back.
        observed = readback.read_back(model_name, plan, deadline) if error else readback.confirmed(plan)
        outcome, applied, not_applied = recording.outcome_record(
            intent=intent, plan=plan, observed=observed, error=error, lost=lost, extra=extra, known=live
        )
        if outcome == "unknown" or (lost and not_applied):
            schedule_reconcile(model_name)
    result = outcomes.ChangeResult(
        action=plan.action,
        model_name=model_name,
        before=live,
        after=observed.aliases if observed else live,
        applied=applied,
        not_applied=not_applied,
        gate=gate_json,
        overridden=overridden,
        outcome=outcome,
        error=error,
        version=plan.source_version,
        watched=lost and bool(not_applied) and observed is not None,
    )
    notification_events.alias_changed(result, actor=actor, reason=reason, team=team)
    if outcome == "unknown":
        raise outcomes.OutcomeUnknown(result)
    if outcome == "failed":
        raise outcomes.ChangeFailed(result, refused=refused)
    if outcome == "partial":
        raise outcomes.PartialChange(result)
    return result
