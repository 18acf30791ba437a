"""JSON API for CI pipelines: make challenger, promote, roll back, with the page's gate, lock,
audit and error semantics (409 conflict or stale state, 422 gate failure with the reasons)."""

from __future__ import annotations

from typing import Any

from ninja import Field, Router, Schema

from registry_ui import validation
from registry_ui.promotion import services

router = Router(tags=["promotion"])

ALIASES_HELP = (
    "The aliases you expect the model to have now (alias → version). When given and MLflow "
    "differs, the call is refused with 409 and the live state. Omit to skip the check."
)


class ChallengerIn(Schema):
    version: str = Field(..., pattern=validation.VERSION_PATTERN, description="Version to make @challenger.")
    expected_aliases: dict[str, str] | None = Field(None, description=ALIASES_HELP)


class PromoteIn(Schema):
    version: str | None = Field(
        None, pattern=validation.VERSION_PATTERN, description="Version to promote; default: the @challenger version."
    )
    expected_aliases: dict[str, str] | None = Field(None, description=ALIASES_HELP)
    override_reason: str = Field(
        "", max_length=2000, description="Admins only: promote despite a failed gate, with this reason."
    )


class RollbackIn(Schema):
    reason: str = Field(..., min_length=1, max_length=2000, description="Why (tag rollback_reason).")
    expected_aliases: dict[str, str] | None = Field(None, description=ALIASES_HELP)


class AliasChangeOut(Schema):
    action: str
    model: str
    outcome: str
    version: str | None
    before: dict[str, str]
    aliases: dict[str, str]
    applied: list[str]
    not_applied: list[str]
    gate: dict[str, Any] | None
    gate_overridden: bool


class ErrorOut(Schema):
    detail: str | list[Any]  # a list for request validation errors (422 from ninja itself)
    error: str | None = None
    reason: str | None = None
    reasons: list[str] | None = None
    aliases: dict[str, str] | None = None
    expected: dict[str, str] | None = None
    gate: dict[str, Any] | None = None
    applied: list[str] | None = None
    not_applied: list[str] | None = None
    outcome: str | None = None


RESPONSES = {
    200: AliasChangeOut,
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
    502: ErrorOut,
    503: ErrorOut,
}


@router.post("/models/{name}/challenger", response=RESPONSES, summary="Set @challenger on a version")
def make_challenger(request: Any, name: str, body: ChallengerIn) -> dict[str, Any]:
    return services.alias_make_challenger(
        model_name=name, version=body.version, actor=request.user, expected=body.expected_aliases
    ).as_json()


@router.post("/models/{name}/promote", response=RESPONSES, summary="Promote @challenger (or a version) to @champion")
def promote(request: Any, name: str, body: PromoteIn) -> dict[str, Any]:
    return services.alias_promote(
        model_name=name,
        actor=request.user,
        version=body.version,
        expected=body.expected_aliases,
        override_reason=body.override_reason,
    ).as_json()


@router.post("/models/{name}/rollback", response=RESPONSES, summary="Roll @champion back to @previous-champion")
def rollback(request: Any, name: str, body: RollbackIn) -> dict[str, Any]:
    return services.alias_rollback(
        model_name=name, actor=request.user, reason=body.reason, expected=body.expected_aliases
    ).as_json()


class ReconcileIn(Schema):
    model_name: str | None = Field(None, max_length=256, description="One model; null: all models.")


class ReconcileQueued(Schema):
    queued: bool
    detail: str


@router.post(
    "/registry/alias-reconcile",
    response={202: ReconcileQueued},
    summary="Queue alias reconciliation: record alias changes made in MLflow directly (operators, admins)",
)
def alias_reconcile_queue(request: Any, payload: ReconcileIn) -> tuple[int, dict[str, Any]]:
    """202 once the message is published; 503 (QueueUnavailable) when the broker refused it or did not
    answer: nothing was queued (issue 14, case 5)."""
    from mlopsadmin import policy
    from mlopsadmin.core.errors import QueueUnavailable
    from mlopsadmin.task_queue import BrokerUnavailable, send
    from registry_ui.promotion.changes import RECONCILE_TASK_NAME

    policy.require(request.user, policy.Action.MAINTENANCE_RUN)
    name = payload.model_name
    try:
        send(RECONCILE_TASK_NAME, kwargs={"model_name": name})  # nothing to commit first: sent at once
    except BrokerUnavailable:
        raise QueueUnavailable(
            f"The task queue (broker) is not answering: the reconciliation of {name or 'all models'} was not "
            f"queued. Nothing was changed; try again when the queue is back."
        ) from None
    return 202, {"queued": True, "detail": f"Reconciliation of {name or 'all models'} queued for a worker."}
