"""What MLflow shows after an alias change: read back after a failed or unanswered write, or confirmed by
every write's answer (registry_ui/promotion/recording.py records the outcome from it)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings

from mlopsadmin.lib import mlflow_bounded as bounded
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.promotion import plans

logger = logging.getLogger(__name__)


@dataclass
class Observed:
    """What MLflow showed after the change: aliases, and the tags of the versions the plan tags (all of
    them when read back; only the ones written when `confirmed`)."""

    aliases: dict[str, str]
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    read_back: bool = True


def confirmed(plan: plans.Plan) -> Observed:
    """MLflow's state when every write of `plan` answered 200 (each answer confirms its write): the planned
    aliases and the tags written. A failed or unanswered write is read back instead (`read_back`)."""
    tags: dict[str, dict[str, str]] = {}
    for version, key, value in plan.tags:
        written = tags.setdefault(version, {})
        if value is not None:  # a deleted tag is absent
            written[key] = value
    return Observed(plans.normalise(plan.after), tags, read_back=False)


def readback_reserve() -> float:
    """Seconds kept free at the end of an action's deadline for reading the outcome back."""
    return min(float(settings.MLFLOW_REQUEST_TIMEOUT), 5.0)


def compare(plan: plans.Plan, observed: Observed) -> tuple[list[str], list[str]]:
    """(applied, not applied) step labels: a step is applied when MLflow shows its target value."""
    applied: list[str] = []
    missing: list[str] = []
    for move in plan.moves:
        done = observed.aliases.get(move.alias) == move.to_version
        (applied if done else missing).append(move.describe())
    for version, key, value in plan.tags:
        done = observed.tags.get(version, {}).get(key) == value  # a deleted tag: absent (None)
        (applied if done else missing).append(plans.tag_label(version, key, value))
    return applied, missing


def outcome_of(applied: list[str], missing: list[str]) -> str:
    if not missing:
        return "ok"
    return "partial" if applied else "failed"


def read_back(model_name: str, plan: plans.Plan, deadline: bounded.Deadline | None = None) -> Observed | None:
    """MLflow's state now, or None when it cannot be read (then the outcome is unknown)."""
    try:
        timeout = max(1.0, deadline.call_timeout() if deadline else float(settings.MLFLOW_REQUEST_TIMEOUT))
        observed = Observed(bounded.get_model_aliases(model_name, timeout=timeout))
        for version in sorted({v for v, _, _ in plan.tags}):
            observed.tags[version] = bounded.get_model_version_tags(model_name, version, timeout=timeout)
    except mlf.MlflowError as exc:
        logger.warning("read-back of the aliases of %s failed: %s", model_name, exc)
        return None
    return observed
