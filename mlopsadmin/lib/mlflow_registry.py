"""MLflow model registry calls: registered models, model versions, aliases and version tags.

Part of the MLflow gateway (`mlopsadmin/lib/mlflow_client.py` is its public face; callers use
`mlflow_client`, not this module). Every `iter_*` walks all pages; every failure is raised as an
`MlflowError` (mlflow_errors.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from mlopsadmin.lib import mlflow_filters
from mlopsadmin.lib.mlflow_connection import client, use_fluent_api
from mlopsadmin.lib.mlflow_errors import MlflowInvalid, MlflowNotFound, call, paginate
from mlopsadmin.lib.mlflow_records import ModelVersion, RegisteredModel, model_record, version_record

MODELS_PAGE_SIZE = 1000
VERSIONS_PAGE_SIZE = 10000


def iter_registered_models(
    *, filter_string: str | None = None, where: dict[str, str] | None = None
) -> Iterator[RegisteredModel]:
    """All registered models (all pages). `where` maps `name` / `tags.<key>` to an exact value, quoted by
    mlflow_filters (any name or tag value works: quotes, backslashes, %, _, unicode)."""
    filter_string, inexact = mlflow_filters.build(where, filter_string)
    pages = paginate(
        "search_registered_models",
        client().search_registered_models,
        filter_string=filter_string,
        max_results=MODELS_PAGE_SIZE,
    )
    yield from mlflow_filters.keep_matching((model_record(m) for m in pages), inexact)


def get_registered_model(name: str) -> RegisteredModel:
    return model_record(call("get_registered_model", client().get_registered_model, name))


def create_registered_model(name: str, *, tags: dict[str, str] | None = None, description: str = "") -> None:
    call("create_registered_model", client().create_registered_model, name, tags=tags, description=description)


def iter_model_versions(
    *, name: str | None = None, filter_string: str | None = None, where: dict[str, str] | None = None
) -> Iterator[ModelVersion]:
    """All versions (of one model when `name` is given, any name), across all pages; `where` as in
    iter_registered_models (`name`, `run_id`, `tags.<key>`)."""
    conditions = dict(where or {})
    if name is not None:
        conditions["name"] = name
    filter_string, inexact = mlflow_filters.build(conditions, filter_string)
    pages = paginate(
        "search_model_versions",
        client().search_model_versions,
        filter_string=filter_string,
        max_results=VERSIONS_PAGE_SIZE,
    )
    yield from mlflow_filters.keep_matching((version_record(v) for v in pages), inexact)


def get_model_version(name: str, version: str | int) -> ModelVersion:
    return version_record(call("get_model_version", client().get_model_version, name, str(version)))


def get_model_version_by_alias(name: str, alias: str) -> ModelVersion | None:
    try:
        return version_record(call("get_model_version_by_alias", client().get_model_version_by_alias, name, alias))
    except MlflowNotFound:
        return None
    except MlflowInvalid as exc:  # some servers answer INVALID_PARAMETER_VALUE for an unknown alias
        if "alias" in str(exc).lower():
            return None
        raise


def create_model_version(
    name: str, *, source: str, run_id: str | None = None, tags: dict[str, str] | None = None, description: str = ""
) -> ModelVersion:
    return version_record(
        call(
            "create_model_version",
            client().create_model_version,
            name,
            source,
            run_id=run_id,
            tags=tags,
            description=description,
        )
    )


def register_model_version(name: str, model_uri: str) -> ModelVersion:
    """Register a logged model (`models:/m-…` or `runs:/<run>/model`) as a new version of `name`."""
    use_fluent_api()
    import mlflow  # lazily: see mlflow_connection

    return version_record(call("register_model", mlflow.register_model, model_uri, name))


def set_model_alias(name: str, alias: str, version: str | int) -> None:
    call("set_registered_model_alias", client().set_registered_model_alias, name, alias, str(version))


def delete_model_alias(name: str, alias: str) -> None:
    call("delete_registered_model_alias", client().delete_registered_model_alias, name, alias)


def set_model_version_tag(name: str, version: str | int, key: str, value: str) -> None:
    call("set_model_version_tag", client().set_model_version_tag, name, str(version), key, value)


def delete_model_version_tag(name: str, version: str | int, key: str) -> None:
    call("delete_model_version_tag", client().delete_model_version_tag, name, str(version), key)


def delete_model_version(name: str, version: str | int) -> None:
    call("delete_model_version", client().delete_model_version, name, str(version))
