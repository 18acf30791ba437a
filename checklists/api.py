"""JSON API: current checklist instances with item states, tick an item, sign off, re-run probes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from checklists import selectors, services
from checklists.models import ChecklistInstance, InstanceItem
from mlopsadmin import policy
from mlopsadmin.core.errors import NotFound
from mlopsadmin.policy import Action

router = Router(tags=["checklists"])


class ItemOut(Schema):
    key: str
    position: int
    text: str
    mode: str
    probe: str
    status: str
    probe_status: str
    evidence: str
    measured_at: datetime | None
    tick_outcome: str
    note: str
    evidence_link: str
    ticked_by: str
    ticked_at: datetime | None


class InstanceOut(Schema):
    id: int
    kind: str
    period: str
    period_start: date
    period_end: date | None
    tracking_uri: str
    definition_version: int
    overdue: bool
    signed_off: bool
    signed_off_by: str
    signed_off_at: datetime | None
    sign_off_note: str
    counts: dict[str, int]
    items: list[ItemOut]


class TickIn(Schema):
    outcome: Literal["pass", "fail", "n/a"] = "pass"
    note: str = Field(..., min_length=1, max_length=2000)
    evidence_link: str = Field("", max_length=500)


class SignOffIn(Schema):
    note: str = Field("", max_length=2000)


class ProbeRunOut(Schema):
    changed: list[str]
    instance: InstanceOut


def _item(item: InstanceItem) -> ItemOut:
    return ItemOut(
        key=item.key,
        position=item.position,
        text=item.text,
        mode=item.mode,
        probe=item.probe,
        status=item.status,
        probe_status=item.probe_status,
        evidence=item.evidence,
        measured_at=item.measured_at,
        tick_outcome=item.tick_outcome,
        note=item.note,
        evidence_link=item.evidence_link,
        ticked_by=item.ticked_by_name,
        ticked_at=item.ticked_at,
    )


def _instance(instance: ChecklistInstance) -> InstanceOut:
    summary = selectors.summarize(instance)
    return InstanceOut(
        id=instance.pk,
        kind=instance.kind,
        period=instance.period_label,
        period_start=instance.period_start,
        period_end=instance.period_end,
        tracking_uri=instance.tracking_uri,
        definition_version=instance.definition.version,
        overdue=summary.overdue,
        signed_off=instance.is_signed,
        signed_off_by=instance.signed_off_name,
        signed_off_at=instance.signed_off_at,
        sign_off_note=instance.sign_off_note,
        counts=dict(summary.counts),
        items=[_item(i) for i in instance.items.all()],
    )


def _get(instance_id: int) -> ChecklistInstance:
    instance = selectors.instance_get(instance_id)
    if instance is None:
        raise NotFound(f"No checklist instance {instance_id}.")
    return instance


@router.get("/checklists/current", response=list[InstanceOut], summary="Current checklists with item states")
def current(request: HttpRequest) -> list[InstanceOut]:
    policy.require(request.user, Action.VIEW)
    ids = [i.pk for i in selectors.current_instances()]
    return [_instance(i) for i in selectors.instances_with_items(ids).order_by("kind")]


@router.get("/checklists/instances/{instance_id}", response=InstanceOut, summary="One checklist instance")
def instance_detail(request: HttpRequest, instance_id: int) -> InstanceOut:
    policy.require(request.user, Action.VIEW)
    return _instance(_get(instance_id))


@router.post(
    "/checklists/instances/{instance_id}/items/{key}/tick",
    response=ItemOut,
    summary="Tick a manual item with a note (409 once signed off)",
)
def tick(request: HttpRequest, instance_id: int, key: str, payload: TickIn) -> ItemOut:
    policy.require(request.user, Action.CHECKLIST_TICK)
    item = services.item_tick(
        instance_id=instance_id,
        key=key,
        actor=request.user,
        outcome=payload.outcome,
        note=payload.note,
        evidence_link=payload.evidence_link,
    )
    return _item(item)


@router.post(
    "/checklists/instances/{instance_id}/sign-off",
    response=InstanceOut,
    summary="Sign off and freeze the instance (409 if already signed)",
)
def sign_off(request: HttpRequest, instance_id: int, payload: SignOffIn) -> InstanceOut:
    policy.require(request.user, Action.CHECKLIST_SIGN_OFF)
    services.instance_sign_off(instance_id=instance_id, actor=request.user, note=payload.note)
    return _instance(_get(instance_id))


@router.post(
    "/checklists/instances/{instance_id}/probes",
    response=ProbeRunOut,
    summary="Re-run the automated probes of an open instance",
)
def probes(request: HttpRequest, instance_id: int) -> ProbeRunOut:
    policy.require(request.user, Action.CHECKLIST_TICK)
    changed = services.instance_probe_run(instance_id=instance_id, actor=request.user)
    return ProbeRunOut(changed=[i.key for i in changed], instance=_instance(_get(instance_id)))
