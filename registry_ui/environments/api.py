"""JSON API for CI pipelines (issue 22): a model's environments side by side, and "copy this version to
the next environment" (queued: 202 with the task to poll, queued.py) with the page's gate, audit and
error semantics (422 refused by the target's gate
with the reasons; 409 already copied there or a copy of it under way; 503 copy failed part-way with what
was cleaned up and what the target holds)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from ninja import Field, Router, Schema

from registry_ui import validation
from registry_ui.environments import queued, selectors, services

router = Router(tags=["environments"])


class EnvironmentRowOut(Schema):
    environment: str
    kind: str = Field(..., description="server: its own tracking server; prefix: a name prefix in this registry")
    server: str = Field(..., description="Tracking server URI, without credentials")
    model: str = Field(..., description="The model's registered name in this environment")
    next: str = Field(..., description="The environment versions are promoted to from here ('' = end of path)")
    champion: str | None
    latest: str | None
    copied_from: str = Field(..., description="Where @champion was copied from, e.g. 'dev v12'")
    received: str | None = Field(..., description="Newest version of the previous environment copied here")
    behind: int | None = Field(..., description="Versions of the previous environment newer than `received`")
    error: str


class PromoteIn(Schema):
    version: str = Field(..., pattern=validation.VERSION_PATTERN, description="Version in the source environment.")
    target: str = Field(
        "", description="The environment the caller expects to copy into (409 when the path now leads elsewhere)"
    )


class PromoteOut(Schema):
    source_environment: str
    target_environment: str
    target_model: str
    target_version: str
    run_id: str = Field(..., description="The target run holding the copied artifacts ('' within one registry)")


class PromoteQueuedOut(Schema):
    task_run_id: int = Field(..., description="The copy's task (maintenance TaskRun of kind environment_copy)")
    state: str = Field(..., description="queued, running, succeeded, failed or interrupted")
    status_url: str = Field(..., description="GET it until the state is final: report holds the target version")
    source_environment: str
    target_environment: str


class EnvErrorOut(Schema):
    detail: str | list[Any]
    error: str | None = None
    reasons: list[str] | None = None
    environment: str | None = None
    step: str | None = None
    cleaned_up: list[str] | None = None
    left_in_target: list[str] | None = None


@router.get("/environments/models/{name}", response=list[EnvironmentRowOut], summary="A model in every environment")
def model_environments(request: Any, name: str) -> list[dict[str, Any]]:
    """`name`: the base name, or the model's name in a prefix environment ('dev.churn'), as promote takes it."""
    return selectors.model_environments(selectors.given_model_base(name))


@router.post(
    "/environments/{environment}/models/{name}/promote",
    response={
        200: PromoteOut,
        202: PromoteQueuedOut,
        400: EnvErrorOut,
        401: EnvErrorOut,
        403: EnvErrorOut,
        409: EnvErrorOut,
        422: EnvErrorOut,
        502: EnvErrorOut,
        503: EnvErrorOut,
    },
    summary="Copy a version to the next environment (the target environment's gate applies)",
)
def promote_to_next(request: Any, environment: str, name: str, body: PromoteIn) -> tuple[int, dict[str, Any]]:
    """202 with the queued copy's task (settings.ENVIRONMENT_COPY_QUEUED, queued.py); 200 with the copy
    when copies run in the request."""
    if settings.ENVIRONMENT_COPY_QUEUED:
        run = queued.promote_queue(
            actor=request.user, source_env=environment, model=name, version=body.version, expected_target=body.target
        )
        return 202, {
            "task_run_id": run.pk,
            "state": run.state,
            "status_url": f"/api/v1/maintenance/task-runs/{run.pk}",
            "source_environment": environment,
            "target_environment": run.parameters["target"],
        }
    result = services.promote_to_next(
        actor=request.user, source_env=environment, model=name, version=body.version, expected_target=body.target
    )
    target = services.next_environment(services.environment(environment))
    return 200, {
        "source_environment": environment,
        "target_environment": target.name,
        "target_model": result.target_model,
        "target_version": result.target_version,
        "run_id": result.run_id,
    }
