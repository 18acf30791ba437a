"""Approval requests per environment (issue 22: "an approval in dev does not approve prod"). A request to
copy version V of a model from an environment into the next one is an ApprovalRequest whose model name is
the target's approval key ('<target env>:<model there>', services.approval_key) and whose version is V in
the source: it is decided in the team's inbox like any other (four-eyes), and only it lets the target's
gate pass. Deciding it writes no MLflow tag (the version it approves does not exist in the target yet):
the copy writes `approved_by` / `approval_date` of THIS approval on the new version in the target."""

from __future__ import annotations

from typing import Any

from mlopsadmin import policy
from mlopsadmin.core.errors import Conflict, RuleViolation
from mlopsadmin.lib.mlflow_errors import MlflowNotFound
from registry_ui import validation
from registry_ui.approvals import selectors as approval_selectors
from registry_ui.approvals.services import approval_request_record
from registry_ui.environments.config import Environment, environment, next_environment
from registry_ui.models import ApprovalRequest
from registry_ui.promotion.changes import model_team

MAX_COMMENT = 4000


def approval_key(target: Environment, base: str) -> str:
    """The approval request's model name that approves a copy INTO `target`: '<env>:<model there>'.
    Approvals are per environment: one for 'dev:<m>' or for the model itself never counts for prod."""
    return f"{target.name}:{target.model_name(base)}"


def target_approval(target: Environment, base: str, version: str) -> ApprovalRequest | None:
    """The newest request (any state) for copying `version` of `base` into `target`, or None."""
    return approval_selectors.approval_latest(model_name=approval_key(target, base), version=version)


def approval_refusal(target: Environment, base: str, version: str, run_id: str) -> str | None:
    """Why `version` of `base` (whose MLflow run in the source is `run_id`) is not approved into `target`,
    or None when it is. An approval names the run the version had when it was asked for: a source model
    deleted and registered again numbers its versions from 1 again, and its new v1 (another run) is not the
    v1 that was approved (issue 22; the same rule as identity.model_identity for one registry)."""
    key = approval_key(target, base)
    if not approval_selectors.version_is_approved(model_name=key, version=version):
        return f"{target.name} requires an approval of v{version} for {target.name} (none approved)"
    req = approval_selectors.approval_latest(model_name=key, version=version)
    if req is not None and req.run_id and run_id and req.run_id != run_id:
        return (
            f"{target.name}'s approval of v{version} was given for run {req.run_id}, not this version's run "
            f"{run_id}: the model was registered again since; ask for a new approval"
        )
    return None


def approval_tags_for_copy(target: Environment, base: str, version: str) -> dict[str, str]:
    """`approved_by` / `approval_date` of the approval that lets `version` into `target`, for the new
    version's tags there ({} when `target` has no approval rule or nothing is approved)."""
    if not target.require_approval:
        return {}
    key = approval_key(target, base)
    if not approval_selectors.version_is_approved(model_name=key, version=version):
        return {}
    req = approval_selectors.approval_latest(model_name=key, version=version)
    if req is None or req.decided_by is None or req.decided_at is None:
        return {}
    return {"approved_by": req.decided_by.get_username(), "approval_date": req.decided_at.date().isoformat()}


def environment_approval_request(
    *, actor: Any, source_env: str, model: str, version: str, comment: str = ""
) -> ApprovalRequest:
    """Ask the team's ML leads to approve copying `version` of `model` (its base name) from `source_env`
    into the next environment. Raises InvalidInput (unknown environment, end of path, bad version),
    PermissionDenied (policy APPROVAL_REQUEST for the model's team), RuleViolation (no such version in
    the source, or the target asks for no approval), Conflict (already approved, or one pending).
    One audit event `approval.request`; the leads are notified."""
    version = validation.model_version(version)
    comment = validation.text_field(comment, field="Comment", limit=MAX_COMMENT)
    source = environment(source_env)
    target = next_environment(source)
    team, team_key = model_team(model)
    policy.require(actor, policy.Action.APPROVAL_REQUEST, team=team)
    if not target.require_approval:
        raise RuleViolation(f"{target.name} asks for no approval: nothing to request.")
    try:
        found = source.handle().model_version(source.model_name(model), version)
    except MlflowNotFound as exc:
        raise RuleViolation(f"{source.model_name(model)} v{version} does not exist in {source.name}.") from exc
    key = approval_key(target, model)
    run_id = str(found.get("run_id") or "")
    if approval_refusal(target, model, version, run_id) is None:
        raise Conflict(f"v{version} is already approved for {target.name}; no new request is needed.")
    return approval_request_record(
        actor=actor,
        model_name=key,
        version=version,
        team_key=team_key,
        comment=comment,
        extra={"environment": target.name, "source": f"{source.name}:{source.model_name(model)} v{version}"},
        reason=f"approval to copy {source.name} v{version} into {target.name}",
        run_id=run_id,
    )
