"""Maintenance API: cleanup plans (create, read, execute, restore), reaper (and reaping a dry run's list) and
capacity triggers, task runs. Permissions are checked by the services (policy)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from maintenance import reaper, selectors
from maintenance.capacity.check import capacity_check_start
from maintenance.cleanup.execute import cleanup_plan_execute
from maintenance.cleanup.plan import cleanup_plan_create
from maintenance.cleanup.restore import cleanup_restore_all, cleanup_restore_run
from maintenance.cleanup.resume import cleanup_plan_resume
from maintenance.models import CleanupPlan, PlanItem, TaskRun
from maintenance.reap_listed import reaper_reap_listed
from mlopsadmin import policy
from mlopsadmin.core.errors import NotFound
from mlopsadmin.policy import Action

router = Router(tags=["maintenance"])


class TaskRunOut(Schema):
    id: int
    kind: str
    state: str
    parameters: dict[str, Any]
    started_by: str
    progress_done: int
    progress_total: int
    counts: dict[str, Any]
    errors: list[str]
    report: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    duration_seconds: float | None
    celery_task_id: str

    @staticmethod
    def resolve_duration_seconds(obj: TaskRun) -> float | None:
        return obj.duration.total_seconds() if obj.duration else None

    @staticmethod
    def resolve_errors(obj: TaskRun) -> list[str]:
        return [str(e) for e in obj.errors or []]


class PlanIn(Schema):
    scope: Literal["experiment", "team", "all"]
    scope_value: str = Field("", max_length=512, description="Experiment name or id, or team key")
    older_than_days: int | None = Field(None, ge=0, le=36500)
    statuses: list[Literal["FAILED", "KILLED", "FINISHED"]] | None = None


class PlanItemOut(Schema):
    run_id: str
    experiment_id: str
    experiment_name: str
    team: str
    run_name: str
    status: str
    end_time: int | None
    excluded: bool
    reason: str
    estimated_bytes: int | None
    outcome: str
    outcome_reason: str
    restore_outcome: str = Field(description="restored, refused (purged), skipped (already active), failed or ''")
    restore_reason: str
    restored_at: datetime | None


class PlanOut(Schema):
    id: int
    scope: str
    scope_value: str
    older_than_days: int
    statuses: list[str]
    cutoff_ms: int
    state: str
    created_by: str
    created_at: datetime
    planned_at: datetime | None
    expired: bool
    candidate_count: int
    excluded_count: int
    estimated_bytes: int
    plan_task_id: int | None
    execute_task_id: int | None
    resumable: bool = Field(..., description="The execution was interrupted: POST …/resume continues it")
    items: list[PlanItemOut]
    items_total: int


class PlanItemsQuery(Schema):
    excluded: bool = False
    offset: int = Field(0, ge=0, le=10_000_000)
    limit: int = Field(200, ge=1, le=1000)


class ExecuteIn(Schema):
    confirm: bool = Field(..., description="The operator confirms they reviewed the plan")
    purge: bool = False


class ReaperIn(Schema):
    dry_run: bool = True
    threshold_hours: float | None = Field(None, ge=0.01, le=8760)
    experiment: str = Field("", max_length=512)


class TaskRunsQuery(Schema):
    kind: Literal["", "cleanup_plan", "cleanup_execute", "cleanup_restore", "reaper", "capacity", "catalog_sync"] = ""
    state: Literal["", "queued", "running", "succeeded", "failed", "interrupted"] = ""
    limit: int = Field(50, ge=1, le=500)


def _plan_out(plan: CleanupPlan, query: PlanItemsQuery) -> dict[str, Any]:
    items = selectors.plan_items(plan=plan, excluded=query.excluded)
    return {
        **{
            f: getattr(plan, f)
            for f in (
                "id",
                "scope",
                "scope_value",
                "older_than_days",
                "statuses",
                "cutoff_ms",
                "created_by",
                "created_at",
                "planned_at",
                "candidate_count",
                "excluded_count",
                "estimated_bytes",
                "plan_task_id",
                "execute_task_id",
            )
        },
        "state": plan.display_state,
        "resumable": plan.interrupted,
        "expired": selectors.plan_is_expired(plan),
        "items_total": items.count(),
        "items": list(items[query.offset : query.offset + query.limit]),
    }


@router.post("/maintenance/cleanup-plans", response={202: PlanOut}, summary="Plan a cleanup (dry run, queued)")
def create_plan(request: HttpRequest, payload: PlanIn) -> tuple[int, dict[str, Any]]:
    policy.require(request.user, Action.MAINTENANCE_RUN)
    plan = cleanup_plan_create(
        actor=request.user,
        scope=payload.scope,
        scope_value=payload.scope_value,
        older_than_days=payload.older_than_days,
        statuses=list(payload.statuses) if payload.statuses else None,
    )
    return 202, _plan_out(plan, PlanItemsQuery(excluded=False, offset=0, limit=200))


@router.get("/maintenance/cleanup-plans/{plan_id}", response=PlanOut, summary="A cleanup plan and its items")
def read_plan(request: HttpRequest, plan_id: int, query: Query[PlanItemsQuery]) -> dict[str, Any]:
    plan = selectors.plan_get(plan_id=plan_id)
    if plan is None:
        raise NotFound(f"No cleanup plan #{plan_id}.")
    return _plan_out(plan, query)


@router.post(
    "/maintenance/cleanup-plans/{plan_id}/execute",
    response={202: TaskRunOut},
    summary="Execute a reviewed plan (queued)",
)
def execute_plan(request: HttpRequest, plan_id: int, payload: ExecuteIn) -> tuple[int, TaskRun]:
    policy.require(request.user, Action.MAINTENANCE_RUN)
    return 202, cleanup_plan_execute(actor=request.user, plan_id=plan_id, confirm=payload.confirm, purge=payload.purge)


class ResumeIn(Schema):
    confirm: bool = Field(..., description="The operator confirms the rest of the plan may be deleted")


@router.post(
    "/maintenance/cleanup-plans/{plan_id}/resume",
    response={202: TaskRunOut},
    summary="Resume an interrupted execution (queued)",
    description=(
        "When a plan's execution stopped before the end (its worker was lost: `state` is `interrupted`, "
        "`resumable` is true), its execute task is queued again and continues where it stopped. Runs whose "
        "deletion was sent but not recorded are looked up in MLflow: deleted ones get their `run.delete` audit "
        "event now (attributed to the execute's actor, reason 'recovered on resume'); the others are re-checked "
        "and deleted. Nothing is deleted twice. 409 when the plan is not interrupted (e.g. a worker is still on "
        "it) or another cleanup execution is active; 422 without `confirm`."
    ),
)
def resume_plan(request: HttpRequest, plan_id: int, payload: ResumeIn) -> tuple[int, TaskRun]:
    policy.require(request.user, Action.MAINTENANCE_RUN)
    return 202, cleanup_plan_resume(actor=request.user, plan_id=plan_id, confirm=payload.confirm)


@router.post("/maintenance/reaper", response={202: TaskRunOut}, summary="Reap stuck runs (dry run by default)")
def start_reaper(request: HttpRequest, payload: ReaperIn) -> tuple[int, TaskRun]:
    policy.require(request.user, Action.MAINTENANCE_RUN)
    return 202, reaper.reaper_start(
        actor=request.user,
        dry_run=payload.dry_run,
        threshold_hours=payload.threshold_hours,
        experiment=payload.experiment,
    )


@router.post(
    "/maintenance/reaper/{task_run_id}/reap",
    response={202: TaskRunOut},
    summary="Reap the runs a reaper dry run listed (queued)",
    description="Exactly the runs dry run `task_run_id` found stuck, each checked again by the reaper's rule "
    "just before: a run that came alive since is skipped and the task's report says why. One reaper task at a "
    "time. 404: no such task; 422: not a reaper dry run; 409: not finished, already reaped, or a reaper is "
    "running.",
)
def reap_listed(request: HttpRequest, task_run_id: int) -> tuple[int, TaskRun]:
    return 202, reaper_reap_listed(actor=request.user, dry_run_id=task_run_id)


@router.post(
    "/maintenance/cleanup-plans/{plan_id}/restore",
    response={202: TaskRunOut},
    summary="Restore every run a cleanup plan deleted (queued)",
    description="A cleanup_restore task brings back (MLflow restore_run) each run the plan soft-deleted that is "
    "not back yet; purged runs are refused with that reason in the task's report. One audit event per restored "
    "run. 409: nothing left to restore or the plan is still running; 422: the plan purged every run it deleted.",
)
def restore_plan(request: HttpRequest, plan_id: int) -> tuple[int, TaskRun]:
    return 202, cleanup_restore_all(actor=request.user, plan_id=plan_id)


@router.post(
    "/maintenance/cleanup-plans/{plan_id}/runs/{run_id}/restore",
    response=PlanItemOut,
    summary="Restore one run a cleanup plan deleted",
    description="Restores the run now and answers its plan item with the outcome (restored, or skipped when it "
    "was active again already). 404: not a run this plan deleted; 409: already restored; 422: the run was "
    "purged (MLflow cannot restore it).",
)
def restore_plan_run(request: HttpRequest, plan_id: int, run_id: str) -> PlanItem:
    return cleanup_restore_run(actor=request.user, plan_id=plan_id, run_id=run_id)


@router.post("/maintenance/capacity-checks", response={202: TaskRunOut}, summary="Measure capacity (queued)")
def start_capacity(request: HttpRequest) -> tuple[int, TaskRun]:
    policy.require(request.user, Action.MAINTENANCE_RUN)
    return 202, capacity_check_start(actor=request.user)


@router.get("/maintenance/task-runs", response=list[TaskRunOut], summary="Task runs, newest first")
def list_task_runs(request: HttpRequest, query: Query[TaskRunsQuery]) -> list[TaskRun]:
    return list(selectors.task_run_history(kind=query.kind, state=query.state)[: query.limit])


@router.get("/maintenance/task-runs/{task_run_id}", response=TaskRunOut, summary="One task run")
def read_task_run(request: HttpRequest, task_run_id: int) -> TaskRun:
    run = selectors.task_run_get(task_run_id=task_run_id)
    if run is None:
        raise NotFound(f"No task run #{task_run_id}.")
    return run
