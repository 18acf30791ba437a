"""Shared steps of the environment tests: configure environments through the configuration file service,
and make a real version (a tiny pyfunc model with a metric) on a given server through the lib helpers."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from django.test import override_settings

from configuration.services import config_apply
from mlopsadmin.lib import mlflow_filters, mlflow_support
from mlopsadmin.lib.mlflow_connection import client
from mlopsadmin.lib.mlflow_registry import register_model_version


def configure(environments: dict[str, dict[str, Any]]) -> None:
    """Apply an [environments] section (TOML written from `environments`) as the system actor."""
    lines = []
    for name, spec in environments.items():
        lines.append(f"[environments.{name}]")
        for key, value in spec.items():
            shown = ("true" if value else "false") if isinstance(value, bool) else repr(value).replace("'", '"')
            lines.append(f"{key} = {shown}")
    config_apply(actor="system:test", text="\n".join(lines) + "\n")


def make_version(
    server_url: str, name: str, *, score: float, metrics: dict[str, float] | None = None, description: str = ""
) -> str:
    """Log a tiny pyfunc model (predicts `score`) in a new run on `server_url`, register it as a version of
    `name` with a tag and `description`; returns the version number."""
    with override_settings(MLFLOW_TRACKING_URI=server_url):
        mlflow = client()
        experiment = f"/env-tests/{uuid.uuid4().hex[:8]}"
        experiment_id = mlflow.create_experiment(experiment)
        run_id = mlflow.create_run(experiment_id).info.run_id
        for key, value in (metrics or {}).items():
            mlflow.log_metric(run_id, key, value)
        model_uri = mlflow_support.log_constant_model(run_id, score=score)
        mlflow.set_terminated(run_id)
        version = str(register_model_version(name, model_uri).version)
        mlflow.set_model_version_tag(name, version, "owner", "env-tests")
        if description:
            mlflow.update_model_version(name, version, description=description)
        return version


def versions_on(server_url: str, name: str) -> list[dict[str, Any]]:
    """Every version of `name` on `server_url` as {version, tags, description} ([] when no such model)."""
    with override_settings(MLFLOW_TRACKING_URI=server_url):
        found = [v for v in client().search_model_versions(mlflow_filters.equals("name", name).text) if v.name == name]
        return [{"version": str(v.version), "tags": dict(v.tags), "description": v.description} for v in found]


def models_named(server_url: str, name: str) -> list[str]:
    with override_settings(MLFLOW_TRACKING_URI=server_url):
        found = client().search_registered_models(mlflow_filters.equals("name", name).text)
        return [m.name for m in found if m.name == name]


def promote_noting(outcomes: list[str], actor: Any, name: str, version: str, source_env: str = "dev") -> None:
    """Promote `name` v`version` from `source_env` and append "copied", "refused: <why>" (409) or
    "error: <exception>" to `outcomes` (for promotions run in threads; closes the thread's connection)."""
    from django.db import connection

    from mlopsadmin.core.errors import Conflict
    from registry_ui.environments import services

    try:
        services.promote_to_next(actor=actor, source_env=source_env, model=name, version=version)
        outcomes.append("copied")
    except Conflict as exc:
        outcomes.append(f"refused: {exc}")
    except Exception as exc:  # reported by the caller's assertion
        outcomes.append(f"error: {exc!r}")
    finally:
        if threading.current_thread() is not threading.main_thread():
            connection.close()
