"""Links from an audit event to its target, in mlopsadmin and in the MLflow UI.

Built defensively: a page link is offered only when the path resolves in the URL map (features that
are not installed give plain text), and an MLflow link only when the event says enough to build it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.urls import Resolver404, resolve, reverse


@dataclass(frozen=True)
class TargetLinks:
    app_url: str | None
    mlflow_url: str | None
    history_url: str | None


def _q(value: str) -> str:
    return quote(str(value), safe="")


def _resolvable(path: str) -> str | None:
    try:
        resolve(path)
    except Resolver404:
        return None
    return path


def app_path(kind: str, target_id: str) -> str | None:
    """The mlopsadmin page of a target, if that page exists in this installation."""
    if kind == "model":
        candidate = f"/registry/models/{_q(target_id)}/"
    elif kind == "model_version" and "/" in target_id:
        name, version = target_id.rsplit("/", 1)
        candidate = f"/registry/models/{_q(name)}/versions/{_q(version)}/"
    elif kind == "experiment":
        candidate = f"/catalog/experiments/{_q(target_id)}/"
    elif kind == "checklist":
        candidate = f"/checklists/{_q(target_id)}/"
    elif kind == "task":
        candidate = f"/maintenance/tasks/{_q(target_id)}/"
    else:
        return None
    return _resolvable(candidate)


def _experiment_of(*states: Any) -> str | None:
    for state in states:
        if isinstance(state, dict) and state.get("experiment_id") not in (None, ""):
            return str(state["experiment_id"])
    return None


def mlflow_url(kind: str, target_id: str, before: Any = None, after: Any = None) -> str | None:
    base = (settings.MLFLOW_UI_URL or "").rstrip("/")
    if not base:
        return None
    if kind == "model":
        return f"{base}/#/models/{_q(target_id)}"
    if kind == "model_version" and "/" in target_id:
        model, version = target_id.rsplit("/", 1)
        return f"{base}/#/models/{_q(model)}/versions/{_q(version)}"
    if kind == "experiment":
        return f"{base}/#/experiments/{_q(target_id)}"
    if kind == "run":
        experiment = _experiment_of(after, before)
        return f"{base}/#/experiments/{_q(experiment)}/runs/{_q(target_id)}" if experiment else None
    return None


def history_url(kind: str, target_id: str) -> str | None:
    if not kind or not target_id:
        return None
    return reverse("audit:history", kwargs={"kind": kind, "target_id": target_id})


def target_links(event: Any) -> TargetLinks:
    return TargetLinks(
        app_url=app_path(event.target_kind, event.target_id),
        mlflow_url=mlflow_url(event.target_kind, event.target_id, event.before, event.after),
        history_url=history_url(event.target_kind, event.target_id),
    )
