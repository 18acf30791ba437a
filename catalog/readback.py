"""Read-back for the catalog's MLflow writes (issue 14: read-back is the truth; a lost answer is not "not
applied"). A rename, a created experiment or a run tag whose answer was lost (timeout, frozen server, 5xx,
a dropped connection after MLflow committed) — or a retry MLflow refused because the first attempt had in
fact landed ("name already taken" by the very change) — is read back: what MLflow shows is recorded,
attributed to the person who asked. When MLflow does not show it, or cannot be read, one audit event says so
(`failed` / `unknown`) and the caller gets a 503 that says what MLflow showed."""

from __future__ import annotations

from typing import Any, Literal

from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import DomainError
from mlopsadmin.lib import mlflow_client as mlf

LOST = (mlf.MlflowUnavailable, mlf.MlflowServerError)  # the write may have been applied


class WriteUnconfirmed(DomainError):
    """MLflow did not confirm a catalog write and does not show it (or cannot be read): recorded as such."""

    status = 503
    title = "MLflow did not confirm the change"


def experiment_name(experiment_id: str) -> str | None:
    """The experiment's name as MLflow shows it now; None when MLflow cannot be read."""
    try:
        return mlf.get_experiment(experiment_id).name
    except mlf.MlflowError:
        return None


def experiment_created_since(name: str, since_ms: int) -> mlf.Experiment | None | Literal[False]:
    """The experiment named `name` when MLflow shows one created at or after `since_ms` (ms since the epoch:
    the moment the create was sent, so it is this create's); False when it shows none such; None when MLflow
    cannot be read."""
    try:
        found = mlf.get_experiment_by_name(name)
    except mlf.MlflowError:
        return None
    if found is None or found.is_deleted or (found.creation_time or 0) < since_ms - 1000:
        return False
    return found


def run_tag(run_id: str, key: str) -> str | None:
    """The run's tag `key` as MLflow shows it now ('' when absent); None when MLflow cannot be read."""
    try:
        return mlf.get_run(run_id).tags.get(key, "")
    except mlf.MlflowError:
        return None


def lost_note(exc: Exception, shown: str) -> str:
    """The audit reason's note for a change whose answer was lost and which MLflow shows applied."""
    return f"MLflow's answer was lost ({str(exc)[:200]}); read back: {shown}."


def unconfirmed(
    *, actor: Any, action: str, target_id: str, team: str, before: Any, after: Any, readable: bool, exc: Exception
) -> WriteUnconfirmed:
    """Record the write MLflow did not confirm (outcome failed: MLflow shows it not applied; unknown: MLflow
    could not be read) and return the refusal to raise."""
    outcome = "failed" if readable else "unknown"
    shown = "MLflow shows it not applied" if readable else "MLflow could not be read back, so the outcome is unknown"
    audit_record(
        actor=actor,
        action=action,
        target_kind="experiment",
        target_id=target_id,
        team=team,
        before=before,
        after=after,
        outcome=outcome,
        reason=f"MLflow did not confirm the change ({str(exc)[:200]}); {shown}.",
    )
    return WriteUnconfirmed(
        f"MLflow did not confirm the change ({exc}); {shown}. Recorded as '{outcome}'. A write whose answer "
        f"was lost may still be applied later: the catalog sync then shows it. Check before trying again."
    )
