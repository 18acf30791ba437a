"""One MLflow gateway handle per environment (issue 22): a tracking server of its own, next to the default
one (`mlflow_connection.client()`, which is left as it is).

A handle carries the server's URI and the credentials its builder read from the process environment
(the configuration file only NAMES the variables; registry_ui.environments.config builds handles).
MLflow's REST layer reads basic-auth credentials from MLFLOW_TRACKING_USERNAME/PASSWORD, process-wide;
so every call through a handle runs under one lock with that environment's credentials in place and the
previous values restored afterwards. Artifacts move through MLflow's artifact APIs file by file
(downloads are streamed to disk by MLflow's artifact repositories; uploads read each file from disk),
never whole in memory here.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mlopsadmin.lib import mlflow_filters
from mlopsadmin.lib.mlflow_connection import display_uri
from mlopsadmin.lib.mlflow_errors import MlflowError, MlflowNotFound, call

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

T = TypeVar("T")
_CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
_lock = threading.RLock()
_clients: dict[str, MlflowClient] = {}


@dataclass(frozen=True)
class EnvironmentHandle:
    """Gateway to one environment's tracking server. `credentials`: (user, password) of its service
    account, or None (never shown: repr=False)."""

    name: str
    tracking_uri: str
    credentials: tuple[str, str] | None = field(default=None, repr=False)

    @property
    def display_uri(self) -> str:
        """The URI without any user:password part (for pages, tags and audit)."""
        return display_uri(self.tracking_uri)

    @contextlib.contextmanager
    def _session(self) -> Iterator[MlflowClient]:
        with _lock:
            previous = {name: os.environ.get(name) for name in _CREDENTIALS}
            credentials = self.credentials
            for name, value in zip(_CREDENTIALS, credentials or ("", ""), strict=True):
                if credentials:
                    os.environ[name] = value
                else:
                    os.environ.pop(name, None)
            try:
                if self.tracking_uri not in _clients:
                    from mlflow.tracking import MlflowClient

                    _clients[self.tracking_uri] = MlflowClient(
                        tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
                    )
                yield _clients[self.tracking_uri]
            finally:
                for name, old in previous.items():
                    if old is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = old

    def run(self, operation: str, fn: Callable[[MlflowClient], T]) -> T:
        """`fn(client)` with this environment's client and credentials; failures leave as MlflowError."""
        with self._session() as client:
            return call(operation, fn, client)

    # --- the calls a cross-environment copy needs ----------------------------------------------------
    def model_version(self, name: str, version: str) -> dict[str, Any]:
        """{name, version, run_id, source, description, tags, aliases} of one version (MlflowNotFound)."""

        def get(client: MlflowClient) -> dict[str, Any]:
            mv = client.get_model_version(name, str(version))
            return {
                "name": mv.name,
                "version": str(mv.version),
                "run_id": mv.run_id or "",
                "source": mv.source or "",
                "description": mv.description or "",
                "tags": dict(mv.tags or {}),
                "aliases": list(mv.aliases or []),
            }

        return self.run("get_model_version", get)

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version `alias` points at, or None (no alias, or no such model: MLflow answers a missing
        alias with INVALID_PARAMETER_VALUE "... not found", a missing model with RESOURCE_DOES_NOT_EXIST)."""
        try:
            return self.run(
                "get_model_version_by_alias", lambda c: str(c.get_model_version_by_alias(name, alias).version)
            )
        except MlflowError as exc:
            if isinstance(exc, MlflowNotFound) or "not found" in str(exc).lower():
                return None
            raise

    def versions_where(self, conditions: dict[str, str]) -> list[Any]:
        """Every model version (MLflow entities, all pages) matching `conditions` ({"name": ..., "tags.k": ...},
        equality). Literals are written by `mlflow_filters` (MLflow does not un-escape a quoted value, so a
        name with a quote or backslash needs its rules); what MLflow can only approximate is checked here.
        Raises MlflowNotFound / MlflowError like `run`."""
        text, inexact = mlflow_filters.build(conditions)
        found: list[Any] = []
        token: str | None = None

        def page_after(c: MlflowClient, after: str | None) -> Any:
            return c.search_model_versions(text, max_results=1000, page_token=after)

        while True:
            page = self.run("search_model_versions", functools.partial(page_after, after=token))
            found.extend(page)
            token = page.token
            if not token:
                return list(mlflow_filters.keep_matching(found, inexact))

    def latest_version(self, name: str) -> str | None:
        """The highest version number of `name`, or None when the model does not exist or has none."""
        try:
            versions = self.versions_where({"name": name})
        except MlflowNotFound:
            return None
        return str(max(int(v.version) for v in versions)) if versions else None

    def download_version(self, name: str, version: str, dst: Path) -> Path:
        """Download a version's model artifacts into `dst` (a folder); returns the local model folder."""
        from mlflow.artifacts import download_artifacts

        def fetch(client: MlflowClient) -> str:
            uri = client.get_model_version_download_uri(name, str(version))
            return str(download_artifacts(artifact_uri=uri, dst_path=str(dst), tracking_uri=self.tracking_uri))

        return Path(self.run("download_artifacts", fetch))

    def upload_run(self, experiment_name: str, local_dir: Path, *, run_name: str, tags: dict[str, str]) -> str:
        """Create a run in `experiment_name` (created when missing), upload `local_dir` under `model/`,
        end the run FINISHED. Returns the run id (the run is left behind on failure: see delete_run)."""

        def experiment(client: MlflowClient) -> str:
            found = client.get_experiment_by_name(experiment_name)
            return str(found.experiment_id) if found else str(client.create_experiment(experiment_name))

        experiment_id = self.run("create_experiment", experiment)
        run_id = self.run(
            "create_run", lambda c: str(c.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id)
        )
        self.run("log_artifacts", lambda c: c.log_artifacts(run_id, str(local_dir), artifact_path="model"))
        self.run("set_terminated", lambda c: c.set_terminated(run_id, "FINISHED"))
        return run_id

    def run_artifact_uri(self, run_id: str, path: str) -> str:
        """The artifact URI of `path` inside a run (what a model version's source points at)."""
        root = self.run("get_run", lambda c: str(c.get_run(run_id).info.artifact_uri))
        return f"{root.rstrip('/')}/{path}"

    def ensure_model(self, name: str) -> bool:
        """Create registered model `name` when missing; True when this call created it."""
        try:
            self.run("get_registered_model", lambda c: c.get_registered_model(name))
            return False
        except MlflowNotFound:
            self.run("create_registered_model", lambda c: c.create_registered_model(name))
            return True

    def create_version(self, name: str, source: str, run_id: str, *, description: str, tags: dict[str, str]) -> str:
        """Register a version of `name` from artifact URI `source`; returns its number."""
        created = self.run(
            "create_model_version",
            lambda c: c.create_model_version(name, source, run_id=run_id, tags=tags, description=description),
        )
        return str(created.version)

    def copy_version(self, src_name: str, version: str, dst_name: str) -> str:
        """Within this one registry: MlflowClient.copy_model_version (MLflow's own advice, mlflow #10336)."""
        return self.run(
            "copy_model_version",
            lambda c: str(c.copy_model_version(f"models:/{src_name}/{version}", dst_name).version),
        )

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self.run("set_model_version_tag", lambda c: c.set_model_version_tag(name, str(version), key, value))

    def versions_tagged(self, name: str, key: str, value: str) -> list[str]:
        """Versions of `name` whose tag `key` equals `value` (read back after a failure)."""
        try:
            found = self.versions_where({"name": name, f"tags.{key}": value})
        except MlflowNotFound:
            return []
        return sorted(str(v.version) for v in found)

    def version_exists(self, name: str, version: str) -> bool:
        """True when `name` v`version` exists in this registry (read back after a failure)."""
        try:
            self.run("get_model_version", lambda c: c.get_model_version(name, str(version)))
            return True
        except MlflowNotFound:
            return False

    def versions_with_tag(self, name: str, key: str) -> list[dict[str, Any]]:
        """[{version, tags}] of every version of `name` that carries tag `key` ([] when no such model)."""
        try:
            found = self.versions_where({"name": name})
        except MlflowNotFound:
            return []
        return [{"version": str(v.version), "tags": dict(v.tags or {})} for v in found if key in (v.tags or {})]

    def delete_version(self, name: str, version: str) -> None:
        self.run("delete_model_version", lambda c: c.delete_model_version(name, str(version)))

    def delete_model(self, name: str) -> None:
        self.run("delete_registered_model", lambda c: c.delete_registered_model(name))

    def delete_run(self, run_id: str) -> None:
        self.run("delete_run", lambda c: c.delete_run(run_id))
