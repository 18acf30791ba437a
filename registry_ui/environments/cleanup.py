"""What a failed copy left in the target environment, and cleaning it up later (issue 22: "a failure
part-way leaves no half-registered version, or marks it and offers cleanup").

A copy that fails removes what it created at once (copy.clean_target). When the target could not be read
or written then (it stopped answering), its audit event `environment.promote` (outcome failed) keeps the
copy's id, the run left behind and whether the copy created the model. `leftovers` reads the target
again for versions tagged with those ids; the confirm page shows them with a "Clean up" button, and
`clean_failed_copies` removes them (one audit event `environment.cleanup`). A version left by a failed
copy never counts as "already copied" (copy.copies_in_target)."""

from __future__ import annotations

from typing import Any

from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib.mlflow_errors import MlflowError
from mlopsadmin.policy import Action, require_actor
from registry_ui.environments.config import Environment, environment, next_environment
from registry_ui.environments.copy import COPY_ID_TAG, clean_target, copy_lock
from registry_ui.promotion.changes import model_team

PROMOTE_ACTION = "environment.promote"
CLEANUP_ACTION = "environment.cleanup"
RECENT_FAILURES = 20  # failed copies of one version looked at (newest first)


def _failed(source: Environment, target: Environment, base: str, version: str) -> list[dict[str, Any]]:
    events = AuditEvent.objects.filter(
        action=PROMOTE_ACTION, outcome="failed", target_id=f"{base}/{source.name}→{target.name}"
    ).order_by("-id")[:RECENT_FAILURES]
    found = []
    for event in events:
        after, before = event.after or {}, event.before or {}
        if after.get("copy_id") and str(before.get("version")) == str(version):
            found.append({**after, "event_id": event.id, "at": event.occurred_at})
    return found


def failed_copy_ids(source: Environment, target: Environment, base: str, version: str) -> frozenset[str]:
    """Ids of the copies of `version` into `target` that failed (from their audit events)."""
    return frozenset(str(f["copy_id"]) for f in _failed(source, target, base, version))


def leftovers(source: Environment, target: Environment, base: str, version: str) -> list[dict[str, Any]]:
    """[{copy_id, event_id, at, versions, run}] of failed copies whose versions the target still holds
    (read now), or whose run was left behind. Raises MlflowError when the target cannot be read."""
    dst, name = target.handle(), target.model_name(base)
    left = []
    for failure in _failed(source, target, base, version):
        versions = dst.versions_tagged(name, COPY_ID_TAG, str(failure["copy_id"]))
        run = str(failure.get("run_left") or "")
        run = run if run and dst.run_active(run) else ""
        if versions or run:
            left.append({**failure, "versions": versions, "run": run})
    return left


def clean_failed_copies(*, actor: Any, source_env: str, model: str, version: str) -> dict[str, list[str]]:
    """Remove what failed copies of `version` of `model` left in the next environment: their versions
    (found by copy id), their runs, and the model when a copy created it and it is empty now. Policy
    ENVIRONMENT_PROMOTE; Conflict while a copy into the model runs; MlflowError when the target cannot be
    read. Returns {removed, left_in_target}; one audit event `environment.cleanup` (outcome partial when
    something is still there)."""
    source = environment(source_env)
    target = next_environment(source)
    team, team_key = model_team(model)
    require_actor(actor, Action.ENVIRONMENT_PROMOTE, team=team)
    dst, name = target.handle(), target.model_name(model)
    removed: list[str] = []
    left: list[str] = []
    with copy_lock(target, name):
        found = leftovers(source, target, model, version)
        for failure in found:
            gone, still = clean_target(dst, name, str(failure["copy_id"]), failure["versions"], False, failure["run"])
            removed += gone
            left += still
            if failure.get("model_created") and not still:
                try:
                    if dst.latest_version(name) is None:
                        dst.delete_model(name)
                        removed.append(f"model {name}")
                except MlflowError:
                    left.append(f"model {name} (could not be removed)")
    audit_record(
        actor=actor,
        action=CLEANUP_ACTION,
        target_kind="model",
        target_id=f"{model}/{source.name}→{target.name}",
        team=team_key,
        before={"environment": target.name, "copies": [str(f["copy_id"]) for f in found], "version": version},
        after={"removed": removed, "left_in_target": left},
        outcome="partial" if left else "ok",
        reason=f"clean-up of failed copies of {source.name} v{version} in {target.name}",
    )
    return {"removed": removed, "left_in_target": left}
