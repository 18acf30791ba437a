"""MLflow model registry calls: registered models, model versions, aliases and version tags.

Part of the MLflow gateway (`mlopsadmin/lib/mlflow_client.py` is its public face; callers use
`mlflow_client`, not this module). Each call is one REST request through the process's transport
(mlflow_rest.py: configured once); every `iter_*` walks all pages; every failure is raised as an
`MlflowError` (mlflow_errors.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from mlopsadmin.lib import mlflow_filters
from mlopsadmin.lib.mlflow_connection import use_fluent_api
from mlopsadmin.lib.mlflow_errors import MlflowInvalid, MlflowNotFound, call
from mlopsadmin.lib.mlflow_records import (
    ModelVersion,
    RegisteredModel,
    model_from_json,
    version_from_json,
    version_record,
)
from mlopsadmin.lib.mlflow_rest import pages, request

MODELS_PAGE_SIZE = 1000
VERSIONS_PAGE_SIZE = 10000


def _tags(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": str(v)} for k, v in (tags or {}).items()]


def iter_registered_models(
    *,
    filter_string: str | None = None,
    where: dict[str, str] | None = None,
    order_by: list[str] | None = None,
) -> Iterator[RegisteredModel]:
    """All registered models (all pages). `where` maps `name` / `tags.<key>` to an exact value, quoted by
    mlflow_filters (any name or tag value works: quotes, backslashes, %, _, unicode)."""
    filter_string, inexact = mlflow_filters.build(where, filter_string)
    body = {"filter": filter_string, "max_results": MODELS_PAGE_SIZE, "order_by": order_by}
    found = pages("search_registered_models", "GET", "/registered-models/search", body, "registered_models")
    yield from mlflow_filters.keep_matching((model_from_json(m) for m in found), inexact)


def get_registered_model(name: str) -> RegisteredModel:
    answer = request("get_registered_model", "GET", "/registered-models/get", {"name": name}, subject=(name,))
    return model_from_json(answer["registered_model"])


def create_registered_model(name: str, *, tags: dict[str, str] | None = None, description: str = "") -> None:
    body = {"name": name, "tags": _tags(tags), "description": description}
    request("create_registered_model", "POST", "/registered-models/create", body, subject=(name,))


def iter_model_versions(
    *,
    name: str | None = None,
    filter_string: str | None = None,
    where: dict[str, str] | None = None,
    order_by: list[str] | None = None,
    page_size: int = VERSIONS_PAGE_SIZE,
) -> Iterator[ModelVersion]:
    """All versions (of one model when `name` is given, any name), across all pages; `where` as in
    iter_registered_models (`name`, `run_id`, `tags.<key>`). `order_by` as MLflow takes it (default:
    last_updated_timestamp DESC, then name, then version DESC), so a caller may stop early."""
    conditions = dict(where or {})
    if name is not None:
        conditions["name"] = name
    filter_string, inexact = mlflow_filters.build(conditions, filter_string)
    body = {"filter": filter_string, "max_results": page_size, "order_by": order_by}
    found = pages("search_model_versions", "GET", "/model-versions/search", body, "model_versions")
    yield from mlflow_filters.keep_matching((version_from_json(v) for v in found), inexact)


def get_model_version(name: str, version: str | int) -> ModelVersion:
    body = {"name": name, "version": str(version)}
    answer = request("get_model_version", "GET", "/model-versions/get", body, subject=(name,))
    return version_from_json(answer["model_version"])


def get_model_version_download_uri(name: str, version: str | int) -> str:
    """Where the version's files are: the storage location MLflow resolved when the version was created
    (for a `models:/<name>/<version>` copy, under the ORIGIN's run, even after the origin is deleted)."""
    body = {"name": name, "version": str(version)}
    answer = request("get_model_version_download_uri", "GET", "/model-versions/get-download-uri", body, subject=(name,))
    return str(answer.get("artifact_uri") or "")


def get_model_version_by_alias(name: str, alias: str) -> ModelVersion | None:
    body = {"name": name, "alias": alias}
    try:
        answer = request("get_model_version_by_alias", "GET", "/registered-models/alias", body, subject=(name,))
    except MlflowNotFound:
        return None
    except MlflowInvalid as exc:  # some servers answer INVALID_PARAMETER_VALUE for an unknown alias
        if "alias" in str(exc).lower():
            return None
        raise
    return version_from_json(answer["model_version"])


def create_model_version(
    name: str, *, source: str, run_id: str | None = None, tags: dict[str, str] | None = None, description: str = ""
) -> ModelVersion:
    body = {"name": name, "source": source, "run_id": run_id, "tags": _tags(tags), "description": description}
    answer = request("create_model_version", "POST", "/model-versions/create", body, subject=(name,))
    return version_from_json(answer["model_version"])


def register_model_version(name: str, model_uri: str) -> ModelVersion:
    """Register a logged model (`models:/m-…` or `runs:/<run>/model`) as a new version of `name`."""
    use_fluent_api()
    import mlflow  # lazily: see mlflow_connection

    return version_record(call("register_model", mlflow.register_model, model_uri, name))


def set_model_alias(name: str, alias: str, version: str | int) -> None:
    body = {"name": name, "alias": alias, "version": str(version)}
    request("set_registered_model_alias", "POST", "/registered-models/alias", body, subject=(name,))


def delete_model_alias(name: str, alias: str) -> None:
    body = {"name": name, "alias": alias}
    request("delete_registered_model_alias", "DELETE", "/registered-models/alias", body, subject=(name,))


def set_model_version_tag(name: str, version: str | int, key: str, value: str) -> None:
    body = {"name": name, "version": str(version), "key": key, "value": value}
    request("set_model_version_tag", "POST", "/model-versions/set-tag", body, subject=(name,))


def delete_model_version_tag(name: str, version: str | int, key: str) -> None:
    body = {"name": name, "version": str(version), "key": key}
    request("delete_model_version_tag", "DELETE", "/model-versions/delete-tag", body, subject=(name,))


def delete_registered_model(name: str) -> None:
    """Delete a registered model with its versions and aliases (MLflow keeps no trace of it)."""
    request("delete_registered_model", "DELETE", "/registered-models/delete", {"name": name}, subject=(name,))


def delete_model_version(name: str, version: str | int) -> None:
    body = {"name": name, "version": str(version)}
    request("delete_model_version", "DELETE", "/model-versions/delete", body, subject=(name,))
