"""Pages of the checklists feature: index, instance (tick / re-run / sign off), definition editor."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from checklists import selectors, services
from checklists.models import KINDS, PROBE_STATUSES, TICK_OUTCOMES
from mlopsadmin import policy
from mlopsadmin.core.htmx import redirect_after_post
from mlopsadmin.policy import Action


def _permissions(request: HttpRequest) -> dict[str, bool]:
    return {
        "may_tick": policy.can(request.user, Action.CHECKLIST_TICK),
        "may_sign": policy.can(request.user, Action.CHECKLIST_SIGN_OFF),
        "may_edit": policy.can(request.user, Action.CHECKLIST_EDIT),
    }


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    current = [selectors.summarize(i) for i in selectors.current_instances()]
    page = Paginator(selectors.past_instances(), 25).get_page(request.GET.get("page"))
    past = [selectors.summarize(i) for i in page]
    return render(
        request,
        "checklists/index.html",
        {
            "title": "Operations checklists",
            "nav_key": "checklists",
            "current": current,
            "page": page,
            "past": past,
            "overdue": selectors.overdue_instances(),
            "latency": selectors.latency_stats(),
            **_permissions(request),
        },
    )


@require_POST
def ensure(request: HttpRequest) -> HttpResponse:
    policy.require(request.user, Action.CHECKLIST_TICK)
    instances = services.instances_ensure(actor=request.user)
    messages.success(request, "Current checklists: " + ", ".join(str(i) for i in instances) + ".")
    return redirect_after_post(request, reverse("checklists:index"))


@require_GET
def instance_detail(request: HttpRequest, instance_id: int) -> HttpResponse:
    instance = selectors.instance_get(instance_id)
    if instance is None:
        raise Http404("No such checklist.")
    return render(
        request,
        "checklists/instance.html",
        {
            "title": str(instance),
            "nav_key": "checklists",
            "instance": instance,
            "summary": selectors.summarize(instance),
            "outcomes": TICK_OUTCOMES,
            "statuses": PROBE_STATUSES,
            **_permissions(request),
        },
    )


@require_POST
def item_tick(request: HttpRequest, instance_id: int, key: str) -> HttpResponse:
    policy.require(request.user, Action.CHECKLIST_TICK)
    item = services.item_tick(
        instance_id=instance_id,
        key=key,
        actor=request.user,
        outcome=request.POST.get("outcome", "pass"),
        note=request.POST.get("note", ""),
        evidence_link=request.POST.get("evidence_link", ""),
    )
    if getattr(request, "htmx", False):
        instance = selectors.instance_get(instance_id)
        return render(
            request,
            "checklists/instance.html#item",
            {
                "item": item,
                "instance": instance,
                "summary": selectors.summarize(instance),  # type: ignore[arg-type]
                "outcomes": TICK_OUTCOMES,
                "oob_summary": True,
                **_permissions(request),
            },
        )
    messages.success(request, f"Ticked: {item.text}")
    return redirect("checklists:instance", instance_id=instance_id)


@require_POST
def probes_run(request: HttpRequest, instance_id: int) -> HttpResponse:
    policy.require(request.user, Action.CHECKLIST_TICK)
    changed = services.instance_probe_run(instance_id=instance_id, actor=request.user)
    messages.success(request, f"Probes re-run: {len(changed)} result(s) changed.")
    return redirect_after_post(request, reverse("checklists:instance", args=[instance_id]))


@require_POST
def sign_off(request: HttpRequest, instance_id: int) -> HttpResponse:
    policy.require(request.user, Action.CHECKLIST_SIGN_OFF)
    instance = services.instance_sign_off(
        instance_id=instance_id, actor=request.user, note=request.POST.get("note", "")
    )
    messages.success(request, f"{instance} signed off. It is now frozen.")
    return redirect_after_post(request, reverse("checklists:instance", args=[instance_id]))


@require_GET
def definitions(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "checklists/definitions.html",
        {
            "title": "Checklist definitions",
            "nav_key": "checklists",
            "histories": [(kind, list(selectors.definition_history(kind)[:10])) for kind in KINDS],
            **_permissions(request),
        },
    )


@require_http_methods(["GET", "POST"])
def definition_edit(request: HttpRequest, kind: str) -> HttpResponse:
    policy.require(request.user, Action.CHECKLIST_EDIT)
    if kind not in KINDS:
        raise Http404("No such checklist kind.")
    if request.method == "POST":
        keys = request.POST.getlist("key")
        try:
            items = [
                (key, request.POST.get(f"text_{key}", ""), int(request.POST.get(f"position_{key}", "0")))
                for key in keys
            ]
            expected = int(request.POST.get("expected_version", "0"))
        except ValueError:
            messages.error(request, "Positions and version must be whole numbers.")
            return redirect("checklists:definition_edit", kind=kind)
        saved = services.definition_edit(
            actor=request.user, kind=kind, items=items, expected_version=expected, note=request.POST.get("note", "")
        )
        messages.success(request, f"Saved {saved}. New instances use it; existing ones keep their wording.")
        return redirect("checklists:definitions")
    definition = services.latest_definition(kind)  # a GET only reads: definitions are loaded at migrate time
    return render(
        request,
        "checklists/definition_edit.html",
        {
            "title": f"Edit {kind} checklist",
            "nav_key": "checklists",
            "definition": definition,
            "items": list(definition.items.order_by("position")) if definition else [],
        },
    )
