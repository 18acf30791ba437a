"""Pages of the environments feature (issue 22): "Promote to <next environment>" from a version page — a
confirm page saying what will happen (target server and model, the target's gate verdict, its approval),
the POST that runs the governed copy, and "request approval for <target>". Thin: the services do the work;
a refusal or failure is shown inline on the confirm page with its status, nothing else changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from maintenance.models import TaskKind, TaskRun
from mlopsadmin.core.errors import DomainError, NotFound
from mlopsadmin.core.htmx import HtmxHttpRequest, redirect_after_post
from mlopsadmin.lib.mlflow_errors import MlflowError, http_status
from registry_ui import validation
from registry_ui.environments import approvals, cleanup, queued, selectors, services
from registry_ui.environments.config import environment_of, environments
from registry_ui.environments.history import managed_environments

TEMPLATE = "registry_ui/environment_confirm.html"


def _copy_task(request: HttpRequest) -> TaskRun | None:
    """The copy task named by `?task=` (queued.py), when it is one."""
    raw = request.GET.get("task", "")
    if not raw.isdigit():
        return None
    return TaskRun.objects.filter(pk=int(raw), kind=TaskKind.ENVIRONMENT_COPY).first()


def _render(
    request: HttpRequest, name: str, version: str, *, error: str = "", extra: Any = None, status: int = 200
) -> HttpResponse:
    preview = selectors.promotion_preview(request.user, name, version)
    context: dict[str, Any] = {
        "title": f"Promote {name} v{version} to {preview['target'].name}",
        "nav_key": "registry",
        "name": name,
        "p": preview,
        "error": error,
        "extra": extra or {},
        "task": _copy_task(request) if request.method == "GET" else None,
    }
    return render(request, TEMPLATE, context, status=status)


def _failed(request: HttpRequest, name: str, version: str, exc: Exception) -> HttpResponse:
    if isinstance(exc, MlflowError):
        status = http_status(exc)[0]
    elif isinstance(exc, PermissionDenied):
        status = 403
    else:
        status = getattr(exc, "status", 400)
    extra = getattr(exc, "extra", {})
    return _render(request, name, version, error=str(exc) or "Not allowed.", extra=extra, status=status)


def _on_confirm_page(
    request: HttpRequest, name: str, version: str, service: Callable[..., Any], **extra: Any
) -> tuple[dict[str, Any], Any, HttpResponse | None]:
    """(preview, the service's answer, None), or (preview, None, the confirm page with the refusal inline).
    `service` is called with actor, source_env, model (base name), version and `extra`. The form's `target`
    (the environment the page was shown for) must still be the next one (services.confirm_target)."""
    preview = selectors.promotion_preview(request.user, name, version)
    try:
        services.confirm_target(preview["source"], preview["target"], request.POST.get("target", ""))
        answer = service(
            actor=request.user, source_env=preview["source"].name, model=preview["base"], version=version, **extra
        )
        return preview, answer, None
    except (DomainError, MlflowError, PermissionDenied) as exc:
        return preview, None, _failed(request, name, version, exc)


@require_http_methods(["GET", "POST"])
def environment_promote(request: HttpRequest, name: str, version: str) -> HttpResponse:
    """GET: the confirm page (with `?task=<id>`: that copy's progress, then its result). POST: queue the
    copy to the next environment (queued.promote_queue; settings.ENVIRONMENT_COPY_QUEUED) and show its
    progress, or run it here (services.promote_to_next) when copies are not queued."""
    version = validation.model_version(version)
    if request.method == "GET":
        return _render(request, name, version)
    if settings.ENVIRONMENT_COPY_QUEUED:
        _, run, refused = _on_confirm_page(request, name, version, queued.promote_queue)
        if refused is not None:
            return refused
        url = reverse("registry:env_promote", args=[name, version])
        return redirect_after_post(request, f"{url}?task={run.pk}")
    preview, result, refused = _on_confirm_page(request, name, version, services.promote_to_next)
    if refused is not None:
        return refused
    source, target = preview["source"], preview["target"]
    messages.success(
        request,
        f"Copied {name} v{version} from {source.name} to {target.name}: {result.target_model} "
        f"v{result.target_version} on {target.display_uri}.",
    )
    return redirect_after_post(request, reverse("registry:version", args=[name, version]))


@require_POST
def environment_approval_request(request: HttpRequest, name: str, version: str) -> HttpResponse:
    """Ask for the next environment's approval of this version (environments/approvals.py)."""
    version = validation.model_version(version)
    comment = request.POST.get("comment", "")
    preview, req, refused = _on_confirm_page(
        request, name, version, approvals.environment_approval_request, comment=comment
    )
    if refused is not None:
        return refused
    messages.success(
        request, f"Approval for {preview['target'].name} requested (#{req.pk}); the team's ML leads were notified."
    )
    return redirect_after_post(request, reverse("registry:env_promote", args=[name, version]))


@require_POST
def environment_cleanup(request: HttpRequest, name: str, version: str) -> HttpResponse:
    """Remove what failed copies of this version left in the next environment (cleanup.py)."""
    version = validation.model_version(version)
    preview, done, refused = _on_confirm_page(request, name, version, cleanup.clean_failed_copies)
    if refused is not None:
        return refused
    text = f"Cleaned up in {preview['target'].name}: " + ("; ".join(done["removed"]) or "nothing was left")
    if done["left_in_target"]:
        messages.warning(request, text + ". Still there: " + "; ".join(done["left_in_target"]))
    else:
        messages.success(request, text + ".")
    return redirect_after_post(request, reverse("registry:env_promote", args=[name, version]))


@require_GET
def environment_side_by_side(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """The model in every environment (selectors.model_environments: @champion, latest, where the champion
    was copied from, how far behind); htmx loads the table after the model page (one read per server)."""
    found = environment_of(name)
    if found is None:
        raise NotFound(f"{name} belongs to no configured environment (configuration file, [environments]).")
    base = found[1]
    managed = managed_environments(environments())
    rows = selectors.model_environments(base)
    for row in rows:  # rollback as today, on the aliases page, where mlopsadmin manages the registry
        row["aliases_here"] = row["environment"] in managed
    context = {"title": f"{base} in every environment", "nav_key": "registry", "name": name, "base": base, "rows": rows}
    template = "registry_ui/environment_side.html#table" if request.htmx else "registry_ui/environment_side.html"
    return render(request, template, context)
