"""A copy to the next environment run by a Celery worker (issue 22): a long artifact copy must not hold a
web worker (and be killed by its timeout). The request checks what it can without writing (policy, the
promotion path the person saw, the target's gate: refusals answer at once, 403 / 409 / 422) and queues a
TaskRun of kind environment_copy (one audit event `environment.queue`, the operation its copy's events
belong to); the worker claims it, beats its heartbeat while services.promote_to_next runs, and records
the outcome in the TaskRun (report: target model and version; errors: why not). Broker down: 503, the
record is marked failed, nothing was copied. A worker killed mid-copy stops beating: the sweep marks its
task interrupted and the copy's pending `environment.copy` event makes cleanup.py offer what it left. A
copy is never re-run by a redelivered message (it is not idempotent): a second claim fails the task."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction

from maintenance.models import ACTIVE_STATES, TaskKind, TaskRun, TaskState
from maintenance.task_runs import actor_for, task_run_create, task_run_enqueue, task_run_finish
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import Conflict, DomainError, RuleViolation
from mlopsadmin.lib.mlflow_errors import MlflowError, MlflowNotFound
from mlopsadmin.policy import Action, require_actor
from registry_ui import validation
from registry_ui.environments import services
from registry_ui.environments.config import environment, next_environment
from registry_ui.promotion.changes import model_team
from registry_ui.promotion.locking import model_lock

QUEUE_ACTION = "environment.queue"
QUEUE_LOCK_WAIT_SECONDS = 5.0  # a check and an insert: held for milliseconds


def promote_queue(*, actor: Any, source_env: str, model: str, version: str, expected_target: str = "") -> TaskRun:
    """Queue the copy of `version` of `model` (base name, or its name in `source_env`) to the next
    environment. Raises what services.promote_to_next raises before writing (PermissionDenied,
    InvalidInput, Conflict for a changed path or a version already in the target, GateFailed with its
    audit event, RuleViolation for a missing version, MlflowError when the source cannot be read),
    Conflict when a copy of it is already queued or running (two requests at once: queue_lock), and
    QueueUnavailable (503) when the broker does not take the task. Returns the queued TaskRun."""
    source = environment(source_env)
    target = next_environment(source)
    model = services.given_base(source, model)
    team, team_key = model_team(model)
    require_actor(actor, Action.ENVIRONMENT_PROMOTE, team=team)
    services.confirm_target(source, target, expected_target)
    version = validation.model_version(version)  # as services.promote_to_next reads it
    try:
        gate = services.target_gate(source, target, model, version)
    except MlflowNotFound as exc:
        raise RuleViolation(f"{source.model_name(model)} v{version} does not exist in {source.name}.") from exc
    before = {"environment": source.name, "model": source.model_name(model), "version": version}

    def refusal(outcome: str, reason: str, after: dict[str, Any]) -> None:
        audit_record(
            actor=actor,
            action=services.AUDIT_ACTION,
            target_kind="model",
            target_id=f"{model}/{source.name}→{target.name}",
            team=team_key,
            before=before,
            after=after,
            outcome=outcome,
            reason=reason,
        )

    if not gate.passed:  # the worker checks the gate again under the copy lock; this answers at once
        refusal("failed", f"refused by the gate of {target.name}", {"environment": target.name, "gate": gate.reasons})
        raise services.GateFailed(gate)
    # a retried CI job or a double click: 409 at once, not a second task that fails in the worker
    services.refuse_second_copy(source, target, model, version, refusal)
    parameters = {"source_env": source.name, "model": model, "version": version, "target": target.name}
    with queue_lock(parameters):
        active = TaskRun.objects.filter(kind=TaskKind.ENVIRONMENT_COPY, state__in=ACTIVE_STATES)
        if earlier := active.filter(**{f"parameters__{k}": v for k, v in parameters.items()}).first():
            reason = f"a copy of it is already {earlier.state} as task #{earlier.pk}"
            refusal("failed", reason, {"environment": target.name, "task_run": earlier.pk})
            raise Conflict(
                f"A copy of {source.model_name(model)} v{version} into {target.name} is already {earlier.state} "
                f"as task #{earlier.pk} (/api/v1/maintenance/task-runs/{earlier.pk}); nothing was queued."
            )
        return _queued(actor, parameters, team_key, before, target.model_name(model))


def _queued(
    actor: Any, parameters: dict[str, str], team_key: str, before: dict[str, str], target_model: str
) -> TaskRun:
    """Create the TaskRun with its `environment.queue` event and send it (after the commit)."""
    with transaction.atomic():
        run = task_run_create(kind=TaskKind.ENVIRONMENT_COPY, parameters=parameters, actor=actor)
        audit_record(
            actor=actor,
            action=QUEUE_ACTION,
            target_kind="task",
            target_id=run.pk,
            team=team_key,
            before=before,
            after={"environment": parameters["target"], "model": target_model},
            reason=f"copy {parameters['source_env']} v{parameters['version']} → {parameters['target']} queued",
        )
        task_run_enqueue(run)
    return run


@contextmanager
def queue_lock(parameters: dict[str, str]) -> Iterator[None]:
    """Two requests queueing the same copy at the same moment check for each other's task one at a time
    (the model lock of the promotion feature under a key of its own, waited for a few seconds)."""
    key = "environment-queue:" + hashlib.sha256(json.dumps(parameters, sort_keys=True).encode()).hexdigest()[:40]
    with model_lock(key, wait=QUEUE_LOCK_WAIT_SECONDS):
        yield


def copy_task_run(run: TaskRun) -> None:
    """Handler of an environment_copy TaskRun (maintenance.tasks.HANDLERS): run the governed copy once and
    record its outcome in the record (succeeded with report {target_model, target_version, run_id, bytes},
    or failed with the reason and report {status, ...details})."""
    p = run.parameters
    if run.attempts > 1:
        why = "the worker running this copy was lost; a copy is not re-run (what it left is offered for clean-up)"
        task_run_finish(run, state=TaskState.FAILED, errors=[why], report={"status": 503})
        return
    try:
        result = services.promote_to_next(
            actor=actor_for(run),
            source_env=p["source_env"],
            model=p["model"],
            version=p["version"],
            expected_target=p.get("target", ""),
            task_run_id=run.pk,
        )
    except (DomainError, MlflowError) as exc:
        status = getattr(exc, "status", 503)
        report = {"status": status, **(getattr(exc, "extra", None) or {})}
        task_run_finish(run, state=TaskState.FAILED, errors=[str(exc)[:1000]], report=report)
        return
    report = {
        "target_environment": p.get("target", ""),
        "target_model": result.target_model,
        "target_version": result.target_version,
        "run_id": result.run_id,
        "bytes": result.bytes,
    }
    task_run_finish(run, state=TaskState.SUCCEEDED, report=report)
