"""Cleanup, step 1: the plan (a dry run). Lists every matching run of the scope and stores each as a
PlanItem: a candidate, or an exclusion with the reason it is kept (protection.py)."""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.selectors import experiment_run_counts, experiment_teams
from configuration.selectors import cleanup_defaults
from maintenance.cleanup import sources
from maintenance.cleanup.plan_rows import plan_items_insert
from maintenance.cleanup.protection import exclusion_reason, protected_run_ids, reason_group
from maintenance.models import CleanupPlan, PlanItem, PlanState, TaskKind, TaskRun, TaskState
from maintenance.reaper import stuck_cutoff_ms
from maintenance.selectors import experiment_resolve
from maintenance.task_runs import fmt_ms, now_ms, task_run_create, task_run_enqueue, task_run_finish, task_run_progress
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.core.models import Team
from mlopsadmin.lib import mlflow_client as mlf

logger = logging.getLogger(__name__)

CLEANUP_STATUSES = ("FAILED", "KILLED", "FINISHED")
SCOPES = ("experiment", "team", "all")


def _validate_plan_input(
    scope: str, scope_value: str, older_than_days: int | None, statuses: list[str] | None
) -> tuple[str, int, list[str]]:
    if scope not in SCOPES:
        raise InvalidInput(f"Scope must be one of {', '.join(SCOPES)}.")
    scope_value = (scope_value or "").strip()
    if scope != "all" and not scope_value:
        raise InvalidInput(f"Name the {scope} to clean up.")
    defaults = cleanup_defaults()  # configuration: [cleanup] older_than_days / statuses
    days = defaults["older_than_days"] if older_than_days is None else older_than_days
    if not isinstance(days, int) or days < 0 or days > 36500:
        raise InvalidInput("'older than' must be a whole number of days between 0 and 36500.")
    chosen = [s.strip().upper() for s in (statuses or defaults["statuses"]) if s and s.strip()]
    bad = [s for s in chosen if s not in CLEANUP_STATUSES]
    if bad or not chosen:
        raise InvalidInput(
            f"Statuses must be chosen from {', '.join(CLEANUP_STATUSES)} (RUNNING runs are never deleted)."
        )
    return scope_value, days, sorted(set(chosen))


def _resolve_scope_value(scope: str, scope_value: str) -> str:
    if scope == "team":
        if not Team.objects.filter(name=scope_value).exists():
            raise InvalidInput(f"Unknown team '{scope_value}'.")
    elif scope == "experiment":
        return experiment_resolve(scope_value).experiment_id
    return scope_value


def cleanup_plan_create(
    *,
    actor: Any,
    scope: str,
    scope_value: str = "",
    older_than_days: int | None = None,
    statuses: list[str] | None = None,
) -> CleanupPlan:
    """Queue a dry run that lists what a cleanup would delete, and why each other run is kept."""
    scope_value, days, chosen = _validate_plan_input(scope, scope_value, older_than_days, statuses)
    scope_value = _resolve_scope_value(scope, scope_value)
    cutoff_ms = now_ms() - days * 86_400_000
    with transaction.atomic():
        run = task_run_create(kind=TaskKind.CLEANUP_PLAN, parameters={}, actor=actor)
        plan = CleanupPlan.objects.create(
            scope=scope,
            scope_value=scope_value,
            older_than_days=days,
            statuses=chosen,
            cutoff_ms=cutoff_ms,
            created_by=run.started_by,
            plan_task=run,
        )
        run.parameters = {
            "plan_id": plan.pk,
            "scope": scope,
            "scope_value": scope_value,
            "older_than_days": days,
            "statuses": chosen,
        }
        run.save(update_fields=["parameters"])
        audit_record(
            actor=actor,
            action="cleanup.plan",
            target_kind="task",
            target_id=run.pk,
            team=scope_value if scope == "team" else "",
            after=run.parameters,
            reason=f"dry run: runs {'/'.join(chosen)} older than {days} days",
        )
        task_run_enqueue(run)
    return plan


def _scope_experiments(plan: CleanupPlan) -> list[mlf.Experiment]:
    if plan.scope == "experiment":
        return [mlf.get_experiment(plan.scope_value)]
    experiments = list(mlf.iter_experiments())
    if plan.scope == "team":
        owners = experiment_teams((e.experiment_id, e.name) for e in experiments)
        experiments = [e for e in experiments if (t := owners[e.experiment_id]) and t.name == plan.scope_value]
    return experiments


def cleanup_plan_build(run: TaskRun) -> None:
    """Handler: list every matching run of the scope (from the backend store when usable, else through
    the tracking API: all pages, chunks of experiments in parallel), classify each as candidate or
    exclusion, store them as PlanItems."""
    plan = CleanupPlan.objects.get(pk=run.parameters["plan_id"])
    source, note = sources.plan_source()
    try:
        counts, by_reason = _plan_items(run, plan, from_store=source == sources.SOURCE_STORE)
    except mlf.BackendStoreError as exc:
        logger.warning("cleanup plan #%s: %s; listing again through the tracking API", plan.pk, exc)
        source, note = sources.SOURCE_API, f"{exc}; listed again through the tracking API"
        counts, by_reason = _plan_items(run, plan, from_store=False)
    with transaction.atomic():
        CleanupPlan.objects.filter(pk=plan.pk).update(
            state=PlanState.READY,
            planned_at=timezone.now(),
            candidate_count=counts["candidates"],
            excluded_count=counts["excluded"],
            estimated_bytes=counts["estimated_bytes"],
        )
        task_run_finish(
            run,
            state=TaskState.SUCCEEDED,
            counts=counts,
            report={
                "plan_id": plan.pk,
                "exclusions_by_reason": by_reason,
                "scope": plan.scope_label,
                "cutoff": fmt_ms(plan.cutoff_ms),
                "source": source,
                "source_note": note,
            },
        )


def _plan_items(run: TaskRun, plan: CleanupPlan, *, from_store: bool) -> tuple[dict[str, int], dict[str, int]]:
    """Stream the scope's runs from one source into PlanItems; (counts, exclusions by reason)."""
    PlanItem.objects.filter(plan=plan).delete()  # a retried plan starts over
    experiments = _scope_experiments(plan)
    by_id = {e.experiment_id: e for e in experiments}
    teams = experiment_teams((e.experiment_id, e.name) for e in experiments)
    protected = protected_run_ids(store_uri=settings.MLFLOW_BACKEND_STORE_URI if from_store else "")
    task_run_progress(run, done=0, total=len(experiments))
    out: queue.Queue[Any] = queue.Queue(maxsize=8)  # bounded: memory stays a few pages
    stop = threading.Event()
    if from_store:
        fetch, chunks = sources.stream_store(plan, out, stop), [experiments]
    else:
        counts_known = experiment_run_counts(list(by_id))
        fetch, chunks = (
            sources.stream_api(plan, out, stop),
            sources.chunks(experiments, settings.MAINTENANCE_PLAN_PARALLELISM, counts_known),
        )
    counts = {"candidates": 0, "excluded": 0, "experiments": len(experiments), "estimated_bytes": 0}
    by_reason: dict[str, int] = {}
    stuck_before = stuck_cutoff_ms()  # one cutoff for every RUNNING run of this plan
    pending: list[dict[str, Any]] = []
    finished = 0
    threads = max(1, min(len(chunks), settings.MAINTENANCE_PLAN_PARALLELISM))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cleanup-plan") as pool:
        for chunk in chunks:
            pool.submit(fetch, chunk)
        try:
            while finished < len(experiments):
                message = out.get()
                if message[0] == "error":
                    raise message[1]
                if message[0] == "done":
                    finished += message[1]
                    task_run_progress(run, done=finished, counts=counts)
                    continue
                for mrun, size in message[1]:
                    pending.append(
                        _plan_item(
                            plan,
                            mrun,
                            by_id[mrun.experiment_id],
                            teams[mrun.experiment_id],
                            protected,
                            stuck_before,
                            size,
                            counts,
                            by_reason,
                        )
                    )
                if len(pending) >= 1000:
                    plan_items_insert(pending)
                    pending = []
                    task_run_progress(run, done=finished, counts=counts)
        finally:
            stop.set()
            while not out.empty():  # unblock producers waiting on a full queue
                out.get_nowait()
    plan_items_insert(pending)
    return counts, by_reason


def _plan_item(
    plan: CleanupPlan,
    mrun: mlf.Run,
    experiment: mlf.Experiment,
    team: Team | None,
    protected: set[str],
    stuck_before: int,
    size: int | None,
    counts: dict[str, int],
    by_reason: dict[str, int],
) -> dict[str, Any]:
    excluded_reason = exclusion_reason(mrun, protected, stuck_before_ms=stuck_before)
    if excluded_reason:
        counts["excluded"] += 1
        by_reason[reason_group(excluded_reason)] = by_reason.get(reason_group(excluded_reason), 0) + 1
        reason = excluded_reason
    else:
        counts["candidates"] += 1
        counts["estimated_bytes"] += size or 0
        age_days = (now_ms() - (mrun.end_time or 0)) // 86_400_000
        reason = f"{mrun.status}, ended {fmt_ms(mrun.end_time)} ({age_days} days ago > {plan.older_than_days})"
    return {  # a PlanItem's fields (plan_rows.plan_items_insert)
        "plan": plan.pk,
        "run_id": mrun.run_id,
        "experiment_id": experiment.experiment_id,
        "experiment_name": experiment.name[:512],
        "team": team.name if team else "",
        "run_name": mrun.run_name[:256],
        "status": mrun.status,
        "end_time": mrun.end_time,
        "excluded": bool(excluded_reason),
        "reason": reason[:256],
        "estimated_bytes": size,
    }
