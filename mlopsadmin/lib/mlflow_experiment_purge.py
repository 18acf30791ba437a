"""Permanently deleting ONE soft-deleted experiment (and its runs), nothing else.

`mlflow gc --experiment-ids X` would also purge every other soft-deleted run and logged model of the
store (without --run-ids it takes all of them; measured in ../shared/MLFLOW-NOTES.md), so this uses
MLflow's own SQL tracking store on exactly that experiment: its runs (artifacts first, best effort),
then the experiment row. Needs MLFLOW_BACKEND_STORE_URI (a SQL store). Part of the gateway: only
`mlopsadmin/lib/` imports mlflow.
"""

from __future__ import annotations

import logging
import tempfile

from mlopsadmin.lib.mlflow_client import MlflowError, MlflowInvalid, MlflowNotFound
from mlopsadmin.lib.mlflow_connection import tracking_uri

logger = logging.getLogger(__name__)


def purge_deleted_experiment(backend_store_uri: str, experiment_id: str) -> list[str]:
    """Hard-delete the experiment `experiment_id` (must be in the deleted stage) and all its runs.
    Returns the purged run ids. Raises MlflowNotFound (no such experiment), MlflowInvalid (not deleted,
    or not a SQL store) or MlflowError (the store failed)."""
    from mlopsadmin.lib import mlflow_lean  # noqa: F401 - before mlflow: no pandas' pyarrow backend

    # isort: split
    from mlflow.entities import ViewType
    from mlflow.exceptions import MlflowException
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    operation = f"purge experiment {experiment_id}"
    if not backend_store_uri or "://" not in backend_store_uri or backend_store_uri.startswith("file:"):
        raise MlflowInvalid("A permanent delete needs MLFLOW_BACKEND_STORE_URI (a SQL store).", operation=operation)
    try:
        store = SqlAlchemyStore(backend_store_uri, tempfile.gettempdir())
        experiment = store.get_experiment(str(experiment_id))
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(getattr(exc, "error_code", "")):
            raise MlflowNotFound(f"No experiment {experiment_id} in the store.", operation=operation) from exc
        raise MlflowError(f"{operation}: {exc.message}", operation=operation) from exc
    if experiment.lifecycle_stage != "deleted":
        raise MlflowInvalid(
            f"Experiment {experiment_id} is not deleted: only a deleted experiment can be purged.", operation=operation
        )
    purged: list[str] = []
    try:
        runs, token = [], None
        while True:  # list first: deleting while paging would shift the pages
            page = store.search_runs([str(experiment_id)], "", ViewType.ALL, max_results=1000, page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                break
        for run in runs:
            try:
                get_artifact_repository(run.info.artifact_uri, tracking_uri=tracking_uri()).delete_artifacts()
            except Exception as exc:  # artifacts are best effort, like mlflow gc
                logger.warning("artifacts of run %s not deleted: %s", run.info.run_id, exc)
            store._hard_delete_run(run.info.run_id)
            purged.append(run.info.run_id)
        store._hard_delete_experiment(str(experiment_id))
    except MlflowException as exc:
        raise MlflowError(f"{operation}: {exc.message}", operation=operation) from exc
    return purged
