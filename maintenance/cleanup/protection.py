"""Which runs a cleanup never deletes: the one place for that rule (planning and execution both ask it).

A run is protected when it
- is still RUNNING (stuck runs are the reaper's job, never the cleanup's);
- is tagged `keep=true` (the ops guide's opt-out tag; the accepted values are configuration, [cleanup]
  keep_values, compared trimmed and lower-cased);
- is tagged `mlflow.registeredModelName` (MLflow sets it when a run logs a model with a registered name);
- is the source of any registered model version, whatever its tags: the version's `run_id`, a
  `runs:/<run_id>/…` source, or the source run of a `models:/m-…` (logged model) source.
"""

from __future__ import annotations

from configuration.selectors import keep_values
from mlopsadmin.lib import mlflow_client as mlf

KEEP_TAG = "keep"
REGISTERED_MODEL_TAG = "mlflow.registeredModelName"
PROTECTING_TAGS = (KEEP_TAG, REGISTERED_MODEL_TAG)  # the only tags planning reads (backend-store fast path)
VERSION_SOURCE_REASON = "source of a registered model version"


def protected_run_ids(*, store_uri: str = "") -> set[str]:
    """Ids of every run that backs a registered model version (see the module docstring). With
    `store_uri` the registry is read from the backend store (read-only), else through REST.
    Raises mlf.MlflowError (BackendStoreError when the store read fails part-way)."""
    run_ids: set[str] = set()
    model_ids: set[str] = set()
    for run_id, source in mlf.model_version_sources(store_uri=store_uri):
        if run_id:
            run_ids.add(run_id)
        source = source or ""
        if source.startswith("runs:/"):
            run_ids.add(source[len("runs:/") :].split("/", 1)[0])
        elif source.startswith("models:/m-"):
            model_ids.add(source[len("models:/") :].split("/", 1)[0])
    resolved = mlf.logged_model_source_runs(sorted(model_ids), store_uri=store_uri)
    run_ids.update(run_id for run_id in resolved.values() if run_id)
    run_ids.discard("")
    return run_ids


def exclusion_reason(run: mlf.Run, protected: set[str]) -> str:
    """Why `run` must be kept ('' when it may be deleted). `protected`: from protected_run_ids()."""
    if run.status == "RUNNING":
        return "still RUNNING (stuck runs are the reaper's job)"
    keep = run.tags.get(KEEP_TAG, "").strip().lower()
    if keep and keep in keep_values():
        return f"tagged {KEEP_TAG}={keep}"[:256]
    if run.tags.get(REGISTERED_MODEL_TAG):
        return f"tagged {REGISTERED_MODEL_TAG}={run.tags[REGISTERED_MODEL_TAG]}"[:256]
    if run.run_id in protected:
        return VERSION_SOURCE_REASON
    return ""


def backs_a_version_now(run_id: str) -> bool:
    """True when a registered model version names this run now (asked again just before deleting it)."""
    return any(True for _ in mlf.iter_model_versions(filter_string=f"run_id = '{run_id}'"))
