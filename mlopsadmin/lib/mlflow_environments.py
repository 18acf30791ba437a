"""One MLflow gateway handle per environment (issue 22): a tracking server of its own, next to the default
one (`mlflow_connection.client()`, which is left as it is).

A handle carries the server's URI and the credentials its builder read from the process environment
(the configuration file only NAMES the variables; registry_ui.environments.config builds handles).
Every call goes over MLflow's REST API through the handle's OWN HTTP sessions (mlflow_rest.transport_for),
which carry its credentials explicitly: nothing is written to or read from process-wide variables per
call, so a request to the default server running at the same time keeps its own service account, and two
copies between different environments can run side by side. Artifacts move through the artifact HTTP
API with the same sessions, file by file, streamed to and from disk (mlflow_env_artifacts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mlopsadmin.lib import mlflow_env_artifacts as artifacts
from mlopsadmin.lib import mlflow_filters, mlflow_rest
from mlopsadmin.lib.mlflow_connection import display_uri
from mlopsadmin.lib.mlflow_errors import MlflowError, MlflowNotFound

LOG_BATCH_METRICS = 1000  # the most metrics MLflow accepts in one log-batch request


@dataclass(frozen=True)
class EnvironmentHandle:
    """Gateway to one environment's tracking server. `credentials`: (user, password) of its service
    account, or None (never shown: repr=False). `default`: it is the default server (a prefix
    environment), reached through the default transport and service account."""

    name: str
    tracking_uri: str
    credentials: tuple[str, str] | None = field(default=None, repr=False)
    default: bool = False
    account: str = ""  # what a refusal (401/403) of its server names: its service account, where it is set

    @property
    def display_uri(self) -> str:
        """The URI without any user:password part (for pages, tags and audit)."""
        return display_uri(self.tracking_uri)

    def transport(self) -> mlflow_rest.Transport:
        """The HTTP sessions of this environment (credentials set on them, nowhere else)."""
        if self.default:
            return mlflow_rest.transport()
        return mlflow_rest.transport_for(self.tracking_uri, self.credentials, self.account)

    def _call(self, operation: str, method: str, endpoint: str, body: dict[str, Any], *subject: Any) -> dict[str, Any]:
        return mlflow_rest.request(operation, method, endpoint, body, subject=subject, via=self.transport())

    def versions_where(self, conditions: dict[str, str]) -> list[dict[str, Any]]:
        """Every model version (model_version() shape, all pages) matching `conditions` ({"name": ...,
        "tags.k": ...}, equality). Literals are written by `mlflow_filters` (MLflow does not un-escape a
        quoted value, so a name with a quote or backslash needs its rules); what MLflow can only
        approximate is checked here. Raises MlflowNotFound / MlflowError."""
        text, inexact = mlflow_filters.build(conditions)
        found = mlflow_rest.pages(
            "search_model_versions",
            "GET",
            "/model-versions/search",
            {"filter": text, "max_results": 1000},
            "model_versions",
            via=self.transport(),
        )
        versions = [_version(v) for v in found]
        return [v for v in versions if all(c.matches(SimpleNamespace(**v)) for c in inexact)]

    # --- reads ---------------------------------------------------------------------------------------
    def model_version(self, name: str, version: str) -> dict[str, Any]:
        """{name, version, run_id, source, description, tags, aliases, model_id} of one version
        (MlflowNotFound when missing)."""
        got = self._call(
            "get_model_version", "GET", "/model-versions/get", {"name": name, "version": str(version)}, name
        )
        return _version(got.get("model_version") or {})

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version `alias` points at, or None (no alias, or no such model: MLflow answers a missing
        alias with INVALID_PARAMETER_VALUE "... not found", a missing model with RESOURCE_DOES_NOT_EXIST)."""
        try:
            got = self._call(
                "get_model_version_by_alias", "GET", "/registered-models/alias", {"name": name, "alias": alias}, name
            )
        except MlflowError as exc:
            if isinstance(exc, MlflowNotFound) or "not found" in str(exc).lower():
                return None
            raise
        version = (got.get("model_version") or {}).get("version")
        return None if version is None else str(version)

    def latest_version(self, name: str) -> str | None:
        """The highest version number of `name`, or None when the model does not exist or has none."""
        try:
            versions = self.versions_where({"name": name})
        except MlflowNotFound:
            return None
        return str(max(int(v["version"]) for v in versions)) if versions else None

    def run_metrics(self, run_id: str) -> dict[str, float]:
        """{metric key: latest value} of run `run_id`."""
        got = self._call("get_run", "GET", "/runs/get", {"run_id": run_id}, run_id)
        metrics = ((got.get("run") or {}).get("data") or {}).get("metrics") or []
        return {m["key"]: float(m["value"]) for m in metrics}

    def run_active(self, run_id: str) -> bool:
        """True when run `run_id` exists and is not deleted (read back after a failure)."""
        try:
            got = self._call("get_run", "GET", "/runs/get", {"run_id": run_id}, run_id)
        except MlflowNotFound:
            return False
        return str(((got.get("run") or {}).get("info") or {}).get("lifecycle_stage", "")) != "deleted"

    def runs_tagged(self, experiment_name: str, key: str, value: str) -> list[str]:
        """Ids of the active runs of experiment `experiment_name` whose tag `key` equals `value` ([] when no
        such experiment); read back to find what a killed copy left (environments/cleanup.py)."""
        try:
            got = self._call(
                "get_experiment_by_name", "GET", "/experiments/get-by-name", {"experiment_name": experiment_name}
            )
        except MlflowNotFound:
            return []
        quoted = value.replace("'", "")
        body = {
            "experiment_ids": [str(got["experiment"]["experiment_id"])],
            "filter": f"tags.`{key}` = '{quoted}'",
            "run_view_type": "ACTIVE_ONLY",
            "max_results": 100,
        }
        runs = self._call("search_runs", "POST", "/runs/search", body).get("runs") or []
        return sorted(str(r["info"]["run_id"]) for r in runs)

    def versions_tagged(self, name: str, key: str, value: str) -> list[str]:
        """Versions of `name` whose tag `key` equals `value` (read back after a failure)."""
        try:
            found = self.versions_where({"name": name, f"tags.{key}": value})
        except MlflowNotFound:
            return []
        return sorted(str(v["version"]) for v in found)

    def version_exists(self, name: str, version: str) -> bool:
        """True when `name` v`version` exists in this registry (read back after a failure)."""
        try:
            self.model_version(name, version)
            return True
        except MlflowNotFound:
            return False

    def versions_with_tag(self, name: str, key: str) -> list[dict[str, Any]]:
        """[{version, tags}] of every version of `name` that carries tag `key` ([] when no such model)."""
        try:
            found = self.versions_where({"name": name})
        except MlflowNotFound:
            return []
        return [{"version": v["version"], "tags": v["tags"]} for v in found if key in v["tags"]]

    # --- artifacts -----------------------------------------------------------------------------------
    def download_version(self, name: str, version: str, dst: Path) -> tuple[Path, artifacts.Moved]:
        """Download a version's model artifacts into folder `dst`, streamed to disk; returns (the local
        model folder, files and bytes moved)."""
        got = self._call(
            "get_model_version_download_uri",
            "GET",
            "/model-versions/get-download-uri",
            {"name": name, "version": str(version)},
            name,
        )
        moved = artifacts.download(self.transport(), str(got.get("artifact_uri") or ""), self.tracking_uri, dst)
        return dst, moved

    def upload_run(
        self,
        experiment_name: str,
        local_dir: Path,
        *,
        run_name: str,
        tags: dict[str, str],
        metrics: dict[str, float] | None = None,
    ) -> tuple[str, artifacts.Moved]:
        """Create a run in `experiment_name` (created when missing) with `metrics` ({key: value}, logged at
        step 0: the source run's figures, so a gate further along the path can judge the copy), upload
        `local_dir` under `model/` (streamed from disk), end the run FINISHED. Returns (run id, moved);
        the run is left behind on failure (see delete_run)."""
        try:
            got = self._call(
                "get_experiment_by_name", "GET", "/experiments/get-by-name", {"experiment_name": experiment_name}
            )
            experiment_id = str(got["experiment"]["experiment_id"])
        except MlflowNotFound:
            experiment_id = str(
                self._call("create_experiment", "POST", "/experiments/create", {"name": experiment_name})[
                    "experiment_id"
                ]
            )
        body = {"experiment_id": experiment_id, "run_name": run_name, "start_time": _now(), "tags": _tags(tags)}
        info = self._call("create_run", "POST", "/runs/create", body)["run"]["info"]
        run_id = str(info["run_id"])
        logged = [{"key": k, "value": v, "timestamp": _now(), "step": 0} for k, v in (metrics or {}).items()]
        for start in range(0, len(logged), LOG_BATCH_METRICS):
            batch = {"run_id": run_id, "metrics": logged[start : start + LOG_BATCH_METRICS]}
            self._call("log_batch", "POST", "/runs/log-batch", batch, run_id)
        moved = artifacts.upload(self.transport(), local_dir, str(info["artifact_uri"]), self.tracking_uri, "model")
        self._call(
            "set_terminated",
            "POST",
            "/runs/update",
            {"run_id": run_id, "status": "FINISHED", "end_time": _now()},
            run_id,
        )
        return run_id, moved

    def run_artifact_uri(self, run_id: str, path: str) -> str:
        """The artifact URI of `path` inside a run (what a model version's source points at)."""
        got = self._call("get_run", "GET", "/runs/get", {"run_id": run_id}, run_id)
        return f"{str(got['run']['info']['artifact_uri']).rstrip('/')}/{path}"

    # --- writes --------------------------------------------------------------------------------------
    def ensure_model(self, name: str, *, tags: dict[str, str] | None = None) -> bool:
        """Create registered model `name` when missing, with `tags` (what created it: a copy killed before
        registering leaves it empty, cleanup finds it by them); True when this call created it."""
        try:
            self._call("get_registered_model", "GET", "/registered-models/get", {"name": name}, name)
            return False
        except MlflowNotFound:
            body = {"name": name, "tags": _tags(tags or {})}
            self._call("create_registered_model", "POST", "/registered-models/create", body, name)
            return True

    def model_tags(self, name: str) -> dict[str, str] | None:
        """The tags of registered model `name`; None when there is no such model."""
        try:
            got = self._call("get_registered_model", "GET", "/registered-models/get", {"name": name}, name)
        except MlflowNotFound:
            return None
        return {t["key"]: str(t.get("value", "")) for t in got["registered_model"].get("tags") or []}

    def create_version(
        self, name: str, source: str, run_id: str, *, description: str, tags: dict[str, str], model_id: str = ""
    ) -> str:
        """Register a version of `name` from artifact URI `source` (tags and description in the same
        request); returns its number."""
        body = {
            "name": name,
            "source": source,
            "run_id": run_id or None,
            "description": description,
            "tags": _tags(tags),
        }
        if model_id:
            body["model_id"] = model_id
        got = self._call("create_model_version", "POST", "/model-versions/create", body, name)
        return str(got["model_version"]["version"])

    def copy_version(self, src: dict[str, Any], dst_name: str, *, tags: dict[str, str]) -> str:
        """Within this one registry, what MlflowClient.copy_model_version does (MLflow's own advice,
        mlflow #10336): a new version of `dst_name` whose source is `models:/<src name>/<version>`, with the
        source's run, model id and description, and `tags`. `src`: a model_version() answer."""
        source = f"models:/{src['name']}/{src['version']}"
        return self.create_version(
            dst_name, source, src["run_id"], description=src["description"], tags=tags, model_id=src.get("model_id", "")
        )

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        body = {"name": name, "version": str(version), "key": key, "value": value}
        self._call("set_model_version_tag", "POST", "/model-versions/set-tag", body, name)

    def delete_version_tag(self, name: str, version: str, key: str) -> None:
        body = {"name": name, "version": str(version), "key": key}
        self._call("delete_model_version_tag", "DELETE", "/model-versions/delete-tag", body, name)

    def delete_version(self, name: str, version: str) -> None:
        self._call(
            "delete_model_version", "DELETE", "/model-versions/delete", {"name": name, "version": str(version)}, name
        )

    def delete_model(self, name: str) -> None:
        self._call("delete_registered_model", "DELETE", "/registered-models/delete", {"name": name}, name)

    def delete_run(self, run_id: str) -> None:
        self._call("delete_run", "POST", "/runs/delete", {"run_id": run_id}, run_id)


def _version(mv: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": str(mv.get("name", "")),
        "version": str(mv.get("version", "")),
        "run_id": str(mv.get("run_id") or ""),
        "source": str(mv.get("source") or ""),
        "description": str(mv.get("description") or ""),
        "tags": {t["key"]: str(t.get("value", "")) for t in mv.get("tags") or []},
        "aliases": list(mv.get("aliases") or []),
        "model_id": str(mv.get("model_id") or ""),
    }


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def _now() -> int:
    return int(time.time() * 1000)
