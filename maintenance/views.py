"""Maintenance pages: running tasks with self-updating progress, history, cleanup plan review and
execution, reaper and capacity triggers, schedules. Thin: one policy check, one service call."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from configuration.selectors import cleanup_defaults
from maintenance import reaper, selectors
from maintenance.capacity.check import capacity_check_start
from maintenance.cleanup.execute import cleanup_plan_execute
from maintenance.cleanup.plan import cleanup_plan_create
from maintenance.cleanup.restore import cleanup_restore_all, cleanup_restore_run, restorable
from maintenance.cleanup.resume import cleanup_plan_resume
from maintenance.forms import ExecuteForm, PlanForm, ReaperForm, ResumeForm
from maintenance.models import TaskKind, TaskState
from maintenance.reap_listed import reap_offer, reaper_reap_listed
from mlopsadmin import policy
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.core.formatting import human_bytes
from mlopsadmin.core.htmx import redirect_after_post, stop_polling_and_refresh
from mlopsadmin.policy import Action


def _form_error(form: PlanForm | ExecuteForm | ReaperForm | ResumeForm) -> InvalidInput:
    problems = "; ".join(f"{field}: {' '.join(str(e) for e in errs)}" for field, errs in form.errors.items())
    return InvalidInput(f"Invalid input — {problems}")


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    state = request.GET.get("state", "")
    history = Paginator(
        selectors.task_run_history(
            kind=kind if kind in TaskKind.values else "", state=state if state in TaskState.values else ""
        ),
        20,
    )
    context = {
        "title": "Maintenance",
        "nav_key": "maintenance",
        "can_run": policy.can(request.user, Action.MAINTENANCE_RUN),
        "active": selectors.active_task_runs(),
        "history": history.get_page(request.GET.get("page")),
        "kinds": TaskKind.choices,
        "states": TaskState.choices,
        "kind": kind,
        "state": state,
        "plans": selectors.recent_plans(),
        "schedules": selectors.schedules_overview(),
        "capacity": selectors.latest_capacity_totals(),
        "teams": selectors.capacity_latest(scope="team"),
        "stores": selectors.capacity_latest(scope="store"),
        "database": next(iter(selectors.capacity_latest(scope="database")), None),
        "store_chart": selectors.capacity_chart(scope="store", title="Artifact store growth"),
        "team_chart": selectors.capacity_chart(scope="team", title="Artifact growth per team"),
        "db_chart": selectors.capacity_chart(scope="database", title="Database growth"),
        "plan_form": PlanForm(
            initial={
                "scope": "experiment",
                "statuses": cleanup_defaults()["statuses"],
                "older_than_days": cleanup_defaults()["older_than_days"],
            }
        ),
        "default_threshold": settings.MAINTENANCE_REAPER_THRESHOLD_HOURS,
    }
    return render(request, "maintenance/index.html", context)


@require_GET
def task_detail(request: HttpRequest, task_run_id: int) -> HttpResponse:
    run = selectors.task_run_get(task_run_id=task_run_id)
    if run is None:
        raise Http404("No such task run.")
    context = {"title": f"Task #{run.pk}", "nav_key": "maintenance", "run": run, "plan": selectors.plan_for_task(run)}
    context.update(reap_offer(run, may_reap=policy.can(request.user, Action.MAINTENANCE_RUN)))
    return render(request, "maintenance/task.html", context)


@require_GET
def task_progress(request: HttpRequest, task_run_id: int) -> HttpResponse:
    """The progress fragment; once the task is finished, answers 286 so htmx stops polling, and the
    page the card sits on is rendered again in place with the task's result."""
    run = selectors.task_run_get(task_run_id=task_run_id)
    if run is None:
        raise Http404("No such task run.")
    response = render(request, "maintenance/index.html#progress", {"run": run})
    if run.is_active:
        return response
    return stop_polling_and_refresh(request, response)  # the page around the card shows the result too


def _require_run(request: HttpRequest) -> None:
    policy.require(request.user, Action.MAINTENANCE_RUN)


def _to_task(request: HttpRequest, run_id: int, text: str) -> HttpResponse:
    messages.success(request, text)
    return redirect("maintenance:task", task_run_id=run_id)


@require_POST
def plan_create(request: HttpRequest) -> HttpResponse:
    _require_run(request)
    form = PlanForm(request.POST)
    if not form.is_valid():
        raise _form_error(form)
    plan = cleanup_plan_create(
        actor=request.user,
        scope=form.cleaned_data["scope"],
        scope_value=form.cleaned_data["scope_value"],
        older_than_days=form.cleaned_data["older_than_days"],
        statuses=form.cleaned_data["statuses"] or None,
    )
    messages.success(request, f"Planning cleanup #{plan.pk} (dry run): nothing is deleted until you execute it.")
    return redirect("maintenance:plan", plan_id=plan.pk)


@require_GET
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = selectors.plan_get(plan_id=plan_id)
    if plan is None:
        raise Http404("No such cleanup plan.")
    show = "excluded" if request.GET.get("show") == "excluded" else "candidates"
    items = Paginator(selectors.plan_items(plan=plan, excluded=show == "excluded"), 50)
    context = {
        "title": f"Cleanup plan #{plan.pk}",
        "nav_key": "maintenance",
        "plan": plan,
        "show": show,
        "items": items.get_page(request.GET.get("page")),
        "expired": selectors.plan_is_expired(plan),
        "can_run": policy.can(request.user, Action.MAINTENANCE_RUN),
        "execute_form": ExecuteForm(),
        "estimated": human_bytes(plan.estimated_bytes),
        "purge_available": bool(settings.MLFLOW_BACKEND_STORE_URI),
        "can_restore": policy.can(request.user, Action.CLEANUP_RESTORE),
        "restorable": restorable(plan).count(),
        "restore_task": selectors.plan_restore_task(plan),
    }
    return render(request, "maintenance/plan.html", context)


@require_POST
def plan_execute(request: HttpRequest, plan_id: int) -> HttpResponse:
    _require_run(request)
    form = ExecuteForm(request.POST)
    if not form.is_valid():
        raise _form_error(form)
    run = cleanup_plan_execute(
        actor=request.user, plan_id=plan_id, confirm=form.cleaned_data["confirm"], purge=form.cleaned_data["purge"]
    )
    return _to_task(request, run.pk, f"Executing cleanup plan #{plan_id}.")


@require_POST
def plan_resume(request: HttpRequest, plan_id: int) -> HttpResponse:
    _require_run(request)
    form = ResumeForm(request.POST)
    if not form.is_valid():
        raise _form_error(form)
    run = cleanup_plan_resume(actor=request.user, plan_id=plan_id, confirm=form.cleaned_data["confirm"])
    return _to_task(request, run.pk, f"Resuming cleanup plan #{plan_id}.")


@require_POST
def reaper_start(request: HttpRequest) -> HttpResponse:
    _require_run(request)
    form = ReaperForm(request.POST)
    if not form.is_valid():
        raise _form_error(form)
    run = reaper.reaper_start(
        actor=request.user,
        dry_run=form.cleaned_data["dry_run"],
        threshold_hours=form.cleaned_data["threshold_hours"],
        experiment=form.cleaned_data["experiment"] or "",
    )
    return _to_task(request, run.pk, "Stuck-run reaper started" + (" (dry run)." if run.parameters["dry_run"] else "."))


@require_POST
def capacity_start(request: HttpRequest) -> HttpResponse:
    _require_run(request)
    run = capacity_check_start(actor=request.user)
    return _to_task(request, run.pk, "Capacity check started.")


@require_POST
def reap_listed(request: HttpRequest, task_run_id: int) -> HttpResponse:
    """ "Reap these now" on a dry run's page: a task reaps exactly the runs it listed, re-checked."""
    run = reaper_reap_listed(actor=request.user, dry_run_id=task_run_id)
    return _to_task(request, run.pk, f"Reaping the runs dry run #{task_run_id} listed (each is checked again first).")


@require_POST
def plan_restore(request: HttpRequest, plan_id: int) -> HttpResponse:
    """ "Restore all": a task restores every run the plan deleted that is not back yet."""
    run = cleanup_restore_all(actor=request.user, plan_id=plan_id)
    return _to_task(request, run.pk, f"Restoring the runs cleanup plan #{plan_id} deleted.")


@require_POST
def plan_restore_run(request: HttpRequest, plan_id: int, run_id: str) -> HttpResponse:
    """Restore one run of the plan now; a refusal (purged, already back) is shown in the row's form."""
    item = cleanup_restore_run(actor=request.user, plan_id=plan_id, run_id=run_id)
    messages.success(request, f"Run {item.run_id}: {item.restore_reason}.")
    return redirect_after_post(request, reverse("maintenance:plan", args=[plan_id]))
