"""Names held by soft-deleted experiments (mlflow/mlflow #2651: MLflow keeps a deleted experiment's name
until it is purged). Creating or renaming to such a name says which experiment holds it and how to free
it; an admin may purge that experiment (audited)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from catalog.models import CatalogExperiment
from mlopsadmin import policy
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from mlopsadmin.lib import mlflow_client as mlf


def refuse_taken_name(name: str) -> None:
    """Conflict when an experiment holds `name`. MLflow keeps a deleted experiment's name (mlflow/mlflow
    #2651): then the message names that experiment and the two ways to free the name."""
    holder = mlf.get_experiment_by_name(name)
    if holder is None:
        return
    if holder.is_deleted:
        raise Conflict(
            f"The name '{name}' is held by deleted experiment {holder.experiment_id}: MLflow keeps the names of "
            "deleted experiments until they are purged. To free it, restore that experiment in MLflow (and "
            "rename it), or have an admin delete it permanently (`manage.py purge_deleted_experiment "
            f"{holder.experiment_id} --actor <admin> --reason ...`, audited). Nothing was changed."
        )
    raise Conflict(f"The name '{name}' is already taken by experiment {holder.experiment_id}; nothing was changed.")


def refuse_runs_backing_versions(experiment_id: str) -> None:
    """RuleViolation when a run of the experiment (deleted runs too) backs a registered model version in any
    source form (the cleanup's protection rule, maintenance/cleanup/protection.py): purging would destroy
    the run, and with it the artifacts a version (maybe @champion) is served from."""
    from maintenance.cleanup.protection import protected_run_ids
    from registry_ui.selectors import run_id_of

    runs = {r.run_id for r in mlf.iter_runs([experiment_id], include_deleted=True)}
    backing = runs & protected_run_ids() if runs else set()
    if not backing:
        return
    versions = [v for v in mlf.iter_model_versions() if run_id_of(v) in backing]
    named = [f"{v.name} v{v.version} (run {run_id_of(v)})" for v in versions]
    shown = "; ".join(named[:10]) or ", ".join(sorted(backing)[:10])
    more = f" and {len(named) - 10} more" if len(named) > 10 else ""
    raise RuleViolation(
        f"Experiment {experiment_id} cannot be purged: {len(backing)} of its runs back registered model versions "
        f"({shown}{more}), and a permanent delete would destroy them. Delete or re-register those versions first, "
        "or restore the experiment in MLflow and rename it to free the name. Nothing was changed."
    )


def deleted_experiment_purge(*, actor: Any, experiment_id: str, reason: str) -> list[str]:
    """Permanently delete one soft-deleted experiment and its runs (admins only, a reason required,
    audited with the experiment's name): frees its name. Returns the purged run ids. Refuses an active
    experiment (422), one whose runs back a registered model version (422) and a server without
    MLFLOW_BACKEND_STORE_URI (422)."""
    from mlopsadmin.lib.mlflow_experiment_purge import purge_deleted_experiment

    policy.require(actor, policy.Action.EXPERIMENT_PURGE)
    reason = (reason or "").strip()
    if not reason or len(reason) > 2000:
        raise InvalidInput("A permanent delete needs a reason (at most 2000 characters).")
    try:
        live = mlf.get_experiment(str(experiment_id))
    except mlf.MlflowNotFound as exc:
        raise NotFound(f"Experiment {experiment_id} does not exist in MLflow.") from exc
    if not live.is_deleted:
        raise RuleViolation(f"Experiment {experiment_id} ('{live.name}') is not deleted: delete it in MLflow first.")
    refuse_runs_backing_versions(live.experiment_id)
    before = {"experiment_id": live.experiment_id, "name": live.name, "lifecycle_stage": live.lifecycle_stage}
    try:
        purged = purge_deleted_experiment(str(settings.MLFLOW_BACKEND_STORE_URI or ""), live.experiment_id)
    except mlf.MlflowInvalid as exc:
        raise RuleViolation(str(exc)) from exc
    except mlf.MlflowError as exc:
        failure: mlf.MlflowError | None = exc
        purged = []
    else:
        failure = None
    gone = failure is None or _gone(live.experiment_id)  # after a failure, MLflow read back decides
    with transaction.atomic():
        if gone:
            CatalogExperiment.objects.filter(experiment_id=live.experiment_id).update(lifecycle_stage="gone")
        audit_record(
            actor=actor,
            action="experiment.purge",
            target_kind="experiment",
            target_id=live.experiment_id,
            before=before,
            after={"purged": gone, "runs_purged": len(purged)},
            reason=reason if failure is None else f"{reason} | {failure}",
            outcome="ok" if gone else "failed",
        )
    if not gone and failure is not None:
        raise failure
    return purged


def _gone(experiment_id: str) -> bool:
    """Read MLflow back after a failed purge: is the experiment gone anyway?"""
    try:
        mlf.get_experiment(experiment_id)
    except mlf.MlflowNotFound:
        return True
    return False
