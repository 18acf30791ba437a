"""Copy a version to the next environment as one governed action (issue 22): policy
(Action.ENVIRONMENT_PROMOTE: an ML lead of the owning team, or an admin), the TARGET environment's gate
(its metric threshold and approval rule: an approval given for one environment does not approve
another), the copy (registry_ui.environments.copy) and one audit event, whatever the outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import Conflict, DomainError, RuleViolation
from mlopsadmin.core.formatting import is_finite_number, json_number
from mlopsadmin.lib.mlflow_errors import MlflowError, MlflowNotFound
from mlopsadmin.policy import Action, require_actor
from notifications import events as notification_events
from registry_ui import validation
from registry_ui.environments.approvals import approval_refusal, approval_tags_for_copy
from registry_ui.environments.cleanup import failed_copy_ids
from registry_ui.environments.config import Environment, environment, next_environment, previous_environment
from registry_ui.environments.copy import (
    COPY_ID_TAG,
    FROM_TAGS,
    FROM_VERSION_TAG,
    CopyFailed,
    CopyResult,
    copies_in_target,
    copy_lock,
    copy_version,
    new_copy_id,
)
from registry_ui.metric_direction import metric_direction
from registry_ui.promotion.changes import model_team

AUDIT_ACTION = "environment.promote"
Recorder = Callable[[str, str, dict[str, Any]], None]  # (outcome, reason, after): writes one audit event
STARTED_ACTION = "environment.copy"  # outcome pending, before any write to the target (cleanup.py)


@dataclass(frozen=True)
class GateResult:
    target: str
    passed: bool
    reasons: list[str]


def target_gate(source: Environment, target: Environment, base: str, version: str) -> GateResult:
    """The gate of `target` for version `version` of `base` as it is in `source`: the metric threshold of
    the target environment (source run's metric; direction from registry_ui.metric_direction) and its
    approval rule, and that the version came into `source` from the environment before it (arrival_reasons).
    Raises MlflowNotFound when the version does not exist in `source`, MlflowError when the
    source cannot be read."""
    src = source.handle()
    found = src.model_version(source.model_name(base), version)  # MlflowNotFound: no such version
    run_id = found["run_id"]
    reasons = arrival_reasons(source, base, found)
    if target.metric and target.threshold is not None:
        metrics = src.run_metrics(run_id) if run_id else {}
        value = metrics.get(target.metric)
        lower = metric_direction(target.metric) == "lower"
        if value is None:
            reasons.append(f"metric {target.metric} is not logged on the version's run")
        elif not is_finite_number(value):  # NaN fails no comparison: refused as the promotion gate does
            reasons.append(
                f"{target.metric} = {json_number(value)} is not a finite number ({target.name}'s threshold "
                f"{'≤' if lower else '≥'} {target.threshold:g})"
            )
        elif (value > target.threshold) if lower else (value < target.threshold):
            reasons.append(
                f"{target.metric} = {value:g} does not meet {target.name}'s threshold "
                f"({'≤' if lower else '≥'} {target.threshold:g})"
            )
    refusal = approval_refusal(target, base, version, run_id or "") if target.require_approval else None
    if refusal:
        reasons.append(refusal)
    return GateResult(target=target.name, passed=not reasons, reasons=reasons)


def arrival_reasons(source: Environment, base: str, found: dict[str, Any]) -> list[str]:
    """Why version `found` (a model_version() answer) of `base` in `source` may not go further: in an
    environment that another promotes into, a version arrives only as a copy from that one (its lineage
    tags), not registered there directly nor left by a copy that failed (cleanup.py), or the gate of
    `source` would be skipped. [] when it may."""
    previous = previous_environment(source)
    if previous is None:
        return []
    tags, name = found["tags"], f"{found['name']} v{found['version']}"
    came_from = (tags.get(FROM_TAGS[0]), tags.get(FROM_TAGS[2]))
    if came_from != (previous.name, previous.model_name(base)) or not tags.get(FROM_VERSION_TAG):
        return [
            f"{name} was not promoted from {previous.name}: a version enters {source.name} only from "
            f"{previous.name}, under {source.name}'s gate"
        ]
    if tags.get(COPY_ID_TAG) in failed_copy_ids(previous, source, base, tags[FROM_VERSION_TAG]):
        return [f"{name} is what a failed copy from {previous.name} left; clean it up and promote again"]
    return []


class GateFailed(RuleViolation):
    """The target environment's gate refused the copy (HTTP 422, reasons in `extra`)."""

    def __init__(self, gate: GateResult) -> None:
        self.extra = {"reasons": gate.reasons, "environment": gate.target}
        super().__init__(f"The gate of {gate.target} refuses: " + "; ".join(gate.reasons))


class PromotionCopyFailed(DomainError):
    """The copy stopped part-way (HTTP 503); what was cleaned up and what the target holds is in `extra`."""

    status = 503
    title = "The copy did not complete"

    def __init__(self, failure: CopyFailed) -> None:
        self.extra = {"step": failure.step, "cleaned_up": failure.cleanup, "left_in_target": failure.left_in_target}
        clean = "the target is clean" if not failure.left_in_target else f"left in target: {failure.left_in_target}"
        super().__init__(f"The copy failed at step {failure.step} ({failure}); {clean}.")


def confirm_target(source: Environment, target: Environment, expected: str) -> None:
    """Raise Conflict (409) when `expected` — the target environment a person saw on the confirm page or a
    CI job names — is not where `source` promotes to now (the configuration changed in between). An empty
    `expected` checks nothing."""
    if expected and expected != target.name:
        raise Conflict(
            f"This was shown for {expected}, but {source.name} now goes to {target.name} (the promotion path "
            "changed); nothing was done. Look at the page again."
        )


def given_base(source: Environment, model: str) -> str:
    """The base name of `model` as a caller gave it for `source`: a CI job often names the model as it is
    registered there ('dev.churn' for prefix 'dev.'), which would otherwise be read as 'dev.dev.churn'.
    The prefix is taken off when the name starts with it and no model of the doubled name exists (a base
    name that really starts with the prefix keeps working). Raises MlflowError when MLflow cannot be read."""
    if source.kind != "prefix" or not source.prefix or not model.startswith(source.prefix):
        return model
    if source.handle().model_tags(source.model_name(model)) is not None:
        return model
    return model[len(source.prefix) :]


def refuse_second_copy(source: Environment, target: Environment, base: str, version: str, record: Recorder) -> None:
    """Raise Conflict (409) naming the copy when `version` of `base` in `source` is already in `target`
    (a copy that failed and left something there does not count: cleanup.py), after `record(outcome,
    reason, after)` wrote the refusal's audit event. Raises MlflowError when the target cannot be read."""
    done = copies_in_target(source, target, base, version, failed=failed_copy_ids(source, target, base, version))
    if done:
        where = f"{target.model_name(base)} v{', v'.join(done)}"
        record("failed", f"already copied to {target.name}: {where}", {"environment": target.name})
        raise Conflict(f"{source.model_name(base)} v{version} is already in {target.name} as {where}.")


def promote_to_next(
    *, actor: Any, source_env: str, model: str, version: str, expected_target: str = "", task_run_id: int = 0
) -> CopyResult:
    """Copy version `version` of model `model` (its name without any environment prefix) from
    `source_env` to the next environment of its promotion path (`expected_target`: see confirm_target).
    `version`: digits, "v" allowed ("007" is v7). Raises PermissionDenied, InvalidInput (unknown
    environment / end of path / not a version number), GateFailed, Conflict (already copied there, or a
    copy of it under way), PromotionCopyFailed; MlflowError when the source
    cannot be read (nothing created). One audit event either way (a failure records what was read back),
    preceded, before any write to the target, by `environment.copy` (pending, with the copy id): a copy
    killed mid-way leaves only that one, and cleanup.py offers to remove what it left. `task_run_id`: the
    worker's TaskRun running this copy (queued.py), kept in that event (a running task is never offered
    for clean-up)."""
    source = environment(source_env)
    target = next_environment(source)
    model = given_base(source, model)
    team, team_key = model_team(model)
    require_actor(actor, Action.ENVIRONMENT_PROMOTE, team=team)
    confirm_target(source, target, expected_target)
    version = validation.model_version(version)  # "01", "v1": v1 (compared with lineage tags and approvals)
    target_id = f"{model}/{source.name}→{target.name}"
    try:
        gate = target_gate(source, target, model, version)
    except MlflowNotFound as exc:
        raise RuleViolation(f"{source.model_name(model)} v{version} does not exist in {source.name}.") from exc
    before = {"environment": source.name, "model": source.model_name(model), "version": version}
    copy_id = ""
    told: dict[str, Any] = {  # the notification of the outcome (notifications.events.environment_copied)
        "actor": actor,
        "team": team,
        "target_id": target_id,
        "source": f"{source.name}:{source.model_name(model)} v{version}",
        "target_env": target.name,
        "target_model": target.model_name(model),
    }

    def record(outcome: str, reason: str, after: dict[str, Any] | None = None, action: str = AUDIT_ACTION) -> None:
        audit_record(
            actor=actor,
            action=action,
            target_kind="model",
            target_id=target_id,
            team=team_key,
            before=before,
            after=after,
            outcome=outcome,
            reason=reason,
        )

    if not gate.passed:
        record("failed", f"refused by the gate of {target.name}", {"environment": target.name, "gate": gate.reasons})
        raise GateFailed(gate)
    try:
        wait = settings.ENVIRONMENT_COPY_LOCK_WAIT_SECONDS if task_run_id else 0  # a worker queues behind
        with copy_lock(target, target.model_name(model), wait=wait):
            refuse_second_copy(source, target, model, version, record)
            tags = approval_tags_for_copy(target, model, version)
            # A worker (web or Celery) killed mid-way records no outcome, so this committed `pending` event
            # says what to look for in the target (cleanup.py).
            copy_id = new_copy_id()
            started: dict[str, Any] = {"environment": target.name, "model": target.model_name(model)}
            started["copy_id"] = copy_id
            started |= {"task_run": task_run_id} if task_run_id else {}
            record("pending", "started", started | {"source_version": version}, action=STARTED_ACTION)
            result = copy_version(source, target, model, version, extra_tags=tags, copy_id=copy_id)
    except CopyFailed as failure:
        after: dict[str, Any] = {
            "environment": target.name,
            "step": failure.step,
            "cleaned_up": failure.cleanup,
            "left_in_target": failure.left_in_target,
            "copy_id": failure.copy_id,  # what a later clean-up looks for (cleanup.py)
            "run_left": failure.run_id,
            "model_created": failure.created_model,
        }
        record("failed", str(failure)[:500], after)
        told["error"], told["left_in_target"] = str(failure)[:500], list(failure.left_in_target)
        notification_events.environment_copied(**told)
        raise PromotionCopyFailed(failure) from failure
    except MlflowError:
        read_failed = {"environment": target.name, "copy_id": copy_id} if copy_id else None
        record("failed", "the source or the target could not be read; nothing was created", read_failed)
        raise
    after = {
        "environment": target.name,
        "model": result.target_model,
        "version": result.target_version,
        "run": result.run_id,
        "server": target.display_uri,
        "bytes": result.bytes,
        "copy_id": result.copy_id,
        "source": f"{source.name}:{source.model_name(model)} v{version}",
    }
    record("ok", f"copied from {source.name} v{version} → {target.name} v{result.target_version}", after)
    notification_events.environment_copied(**told, target_version=result.target_version)
    return result
