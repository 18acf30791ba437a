"""Links from an audit event to its target, in mlopsadmin and in the MLflow UI.

Built defensively: a page link is offered only when the path resolves in the URL map (features that
are not installed give plain text), and an MLflow link only when the event says enough to build it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
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
        candidate = f"/registry/models/{_q(target_id.rsplit('/', 1)[0])}/"
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


OUTCOME_PILL = {"ok": "pill-ok", "partial": "pill-warning"}


@dataclass(frozen=True)
class EventRow:
    """One line of the audit table, formatted once in Python (a 50-row page renders in a few ms)."""

    id: int
    url: str
    when: str
    actor: str
    action: str
    target: str
    history_url: str | None
    team: str
    outcome: str
    pill: str
    reason: str


def event_rows(events: list[Any]) -> list[EventRow]:
    event_prefix = reverse("audit:event", args=[1]).removesuffix("1/")
    history_prefix = reverse("audit:history", args=["k", "t"]).removesuffix("k/t/")
    rows = []
    for e in events:
        linkable = bool(e.target_kind and e.target_id and "/" not in e.target_kind)
        reason = e.reason if len(e.reason) <= 80 else e.reason[:79] + "…"
        rows.append(
            EventRow(
                id=e.id,
                url=f"{event_prefix}{e.id}/",
                when=e.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                actor=e.actor_name,
                action=e.action,
                target=f"{e.target_kind}:{e.target_id}",
                history_url=f"{history_prefix}{quote(e.target_kind, safe='')}/{quote(e.target_id, safe='/')}/"
                if linkable
                else None,
                team=e.team,
                outcome=e.outcome,
                pill=OUTCOME_PILL.get(e.outcome, "pill-critical"),
                reason=reason,
            )
        )
    return rows
