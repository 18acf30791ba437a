"""The outcome of an alias change: `ChangeResult` (what was planned, applied and read back) and the errors
that carry it to the caller when MLflow refused, failed part-way or could not confirm (registry_ui/promotion/
changes.py raises them; services.py re-exports them for views, the API and tasks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlopsadmin.core.errors import Conflict, DomainError, RuleViolation
from registry_ui.promotion import plans, recording
from registry_ui.promotion.gate import GateResult


class StaleAliases(Conflict):
    def __init__(self, model_name: str, expected: dict[str, str], live: dict[str, str]) -> None:
        super().__init__(
            f"The aliases changed since you looked: {model_name} now has {plans.describe_state(live)} "
            f"(you saw {plans.describe_state(expected)}). Nothing was changed; review and try again."
        )
        self.extra = {"reason": "stale", "aliases": live, "expected": expected}


class GateFailed(RuleViolation):
    def __init__(self, gate: GateResult) -> None:
        reasons = gate.reasons()
        super().__init__("The validation gate blocked the promotion: " + " ".join(reasons))
        self.gate = gate
        self.extra = {"reasons": reasons, "gate": gate.as_json()}


class PartialChange(DomainError):
    status = 502
    title = "MLflow failed part-way: only some alias changes were applied"

    def __init__(self, result: ChangeResult) -> None:
        applied = "; ".join(result.applied) or "nothing"
        missing = "; ".join(result.not_applied)
        super().__init__(
            f"MLflow failed during the {result.action} of {result.model_name}: {result.error}. Read back "
            f"from MLflow: "
            f"Applied: {applied}. NOT applied{' (yet)' if result.watched else ''}: {missing}. "
            + (_late_note(result) if result.watched else "")
            + "The aliases may be inconsistent; use Repair on the aliases page."
        )
        self.result = result
        self.extra = {
            "applied": result.applied,
            "not_applied": result.not_applied,
            "outcome": "partial",
            "aliases": result.after,
            "may_still_apply": result.watched,
        }


def _late_note(result: ChangeResult) -> str:
    """What a caller must know when a write's answer was lost and the read-back did not show it (yet)."""
    return (
        f"MLflow's answer to a write was lost, so MLflow may still apply it late (from its backlog): "
        f"mlopsadmin watches this model for {recording.WATCH_SECONDS // 60} minutes and records a late move, "
        f"attributed to this {result.action}. Check the aliases page before trying again. "
    )


class OutcomeUnknown(DomainError):
    status = 503
    title = "MLflow did not confirm the change: its outcome is unknown"

    def __init__(self, result: ChangeResult) -> None:
        super().__init__(
            f"MLflow did not answer during the {result.action} of {result.model_name} ({result.error}), and "
            f"its aliases could not be read back, so the outcome is unknown: some of "
            f"{'; '.join(result.not_applied)} may have been applied. It is recorded as 'unknown'; mlopsadmin "
            f"reads MLflow again as soon as it answers and records what happened, attributed to this "
            f"{result.action}. Check the aliases page before trying again."
        )
        self.result = result
        self.extra = {"applied": [], "not_applied": result.not_applied, "outcome": "unknown"}


class ChangeFailed(DomainError):
    status = 503
    title = "MLflow did not apply the change"

    def __init__(self, result: ChangeResult, *, refused: bool = False) -> None:
        """`refused`: MLflow refused the write (credentials, permission, invalid): 502, and trying again
        will not help until that is fixed."""
        if result.watched:
            tail = _late_note(result)
        else:
            tail = "Retrying will not help until this is fixed in MLflow." if refused else "Try again."
        super().__init__(
            f"The {result.action} of {result.model_name} was not applied: {result.error}. MLflow, read back, "
            f"shows the aliases unchanged; recorded as 'failed'. " + tail
        )
        if refused:
            self.status = 502
        self.result = result
        self.extra = {
            "applied": [],
            "not_applied": result.not_applied,
            "outcome": "failed",
            "aliases": result.after,
            "may_still_apply": result.watched,
        }


@dataclass
class ChangeResult:
    action: str
    model_name: str
    before: dict[str, str]
    after: dict[str, str]
    applied: list[str] = field(default_factory=list)
    not_applied: list[str] = field(default_factory=list)
    gate: dict[str, Any] | None = None
    overridden: bool = False
    outcome: str = "ok"
    error: str = ""
    version: str | None = None
    watched: bool = False  # a write's answer was lost and MLflow did not show it yet: it may still land

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "model": self.model_name,
            "outcome": self.outcome,
            "before": self.before,
            "aliases": self.after,
            "applied": self.applied,
            "not_applied": self.not_applied,
            "gate": self.gate,
            "gate_overridden": self.overridden,
            "version": self.version,
        }
