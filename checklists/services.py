"""Writes of the checklists feature: load definitions, edit them, create instances, run probes,
tick items, sign off. Each state change writes exactly one audit event (target_kind "checklist")."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from checklists import probes
from checklists.definitions import code_definitions
from checklists.models import (
    FAIL,
    KIND_MONTHLY,
    KIND_WEEKLY,
    KINDS,
    PASS,
    PENDING,
    TICK_OUTCOMES,
    ChecklistDefinition,
    ChecklistInstance,
    DefinitionItem,
    InstanceItem,
    LatencySample,
)
from mlopsadmin.audit.operations import audit_operation
from mlopsadmin.audit.services import actor_label, audit_record
from mlopsadmin.core.dashboard import badge_changed
from mlopsadmin.core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib.uris import without_credentials

SYSTEM_ACTOR = "system:checklists"
NOTE_MAX = 2000


# --- Definitions -----------------------------------------------------------------------------
def latest_definition(kind: str) -> ChecklistDefinition | None:
    return ChecklistDefinition.objects.filter(kind=kind).order_by("-version").first()


def _definition_snapshot(definition: ChecklistDefinition) -> dict[str, Any]:
    return {
        "version": definition.version,
        "items": [{"key": i.key, "text": i.text} for i in definition.items.order_by("position")],
    }


def definitions_sync(*, actor: Any = SYSTEM_ACTOR) -> list[ChecklistDefinition]:
    """Load the code's definition files; a file whose version is not in the database yet becomes a new
    definition version. Admin edits made in the UI survive until the file's version is raised."""
    created = []
    with audit_operation():  # one operation: every definition loaded now
        for kind, spec in code_definitions().items():
            with transaction.atomic():
                if (
                    ChecklistDefinition.objects.select_for_update()
                    .filter(kind=kind, code_version=spec.version)
                    .exists()
                ):
                    continue
                latest = latest_definition(kind)
                try:
                    with transaction.atomic():
                        definition = ChecklistDefinition.objects.create(
                            kind=kind,
                            version=(latest.version + 1) if latest else 1,
                            title=spec.title,
                            code_version=spec.version,
                            source="code",
                            created_by=actor_label(actor),
                            note=f"Loaded from definitions/{kind}.md (file version {spec.version}).",
                        )
                except IntegrityError:
                    continue  # another process loaded it at the same moment
                DefinitionItem.objects.bulk_create(
                    DefinitionItem(
                        definition=definition, position=n, key=i.key, text=i.text, mode=i.mode, probe=i.probe
                    )
                    for n, i in enumerate(spec.items, start=1)
                )
                audit_record(
                    actor=actor,
                    action="checklist.definition_load",
                    target_kind="checklist",
                    target_id=f"definition/{kind}",
                    before=_definition_snapshot(latest) if latest else None,
                    after=_definition_snapshot(definition),
                )
                created.append(definition)
    return created


def definition_edit(
    *, actor: Any, kind: str, items: list[tuple[str, str, int]], expected_version: int, note: str = ""
) -> ChecklistDefinition:
    """New definition version with the given (key, text, position) items: same keys, new wording/order."""
    if kind not in KINDS:
        raise NotFound(f"No checklist kind '{kind}'.")
    with transaction.atomic():
        current = ChecklistDefinition.objects.select_for_update().filter(kind=kind).order_by("-version").first()
        if current is None:
            raise NotFound(f"The {kind} checklist has no definition yet.")
        if current.version != expected_version:
            raise Conflict(
                f"The {kind} checklist was changed meanwhile (now version {current.version}); reload and edit again."
            )
        old_items = {i.key: i for i in current.items.all()}
        edits = {key: (text.strip(), position) for key, text, position in items}
        if set(edits) != set(old_items):
            raise InvalidInput(
                "Every item of the checklist must be given exactly once (items cannot be added or removed here)."
            )
        for key, (text, _) in edits.items():
            if not text or len(text) > 500 or "\x00" in text:
                raise InvalidInput(f"Item '{key}': wording must be 1 to 500 characters.")
        ordered = sorted(edits.items(), key=lambda kv: (kv[1][1], old_items[kv[0]].position))
        if all(old_items[key].text == text for key, (text, _) in ordered) and [key for key, _ in ordered] == [
            i.key for i in current.items.order_by("position")
        ]:
            raise InvalidInput("Nothing changed.")
        note = _clean_text(note, "note")
        definition = ChecklistDefinition.objects.create(
            kind=kind,
            version=current.version + 1,
            title=current.title,
            code_version=current.code_version,
            source="ui",
            created_by=actor_label(actor),
            note=note,
        )
        DefinitionItem.objects.bulk_create(
            DefinitionItem(
                definition=definition,
                position=n,
                key=key,
                text=text,
                mode=old_items[key].mode,
                probe=old_items[key].probe,
            )
            for n, (key, (text, _)) in enumerate(ordered, start=1)
        )
        audit_record(
            actor=actor,
            action="checklist.definition_edit",
            target_kind="checklist",
            target_id=f"definition/{kind}",
            before=_definition_snapshot(current),
            after=_definition_snapshot(definition),
            reason=note[:NOTE_MAX],
        )
    return definition


# --- Instances -------------------------------------------------------------------------------
def period_for(kind: str, today: dt.date, tracking_uri: str) -> tuple[str, dt.date, dt.date | None]:
    if kind == KIND_WEEKLY:
        year, week, _ = today.isocalendar()
        start = dt.date.fromisocalendar(year, week, 1)
        return f"{year}-W{week:02d}", start, start + dt.timedelta(days=6)
    if kind == KIND_MONTHLY:
        start = today.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        return f"{today:%Y-%m}", start, end
    key = "initial:" + tracking_uri
    if len(key) > 300:
        key = "initial:sha256:" + hashlib.sha256(tracking_uri.encode()).hexdigest()
    return key, today, None


def instance_create(
    *, kind: str, today: dt.date | None = None, actor: Any = SYSTEM_ACTOR
) -> tuple[ChecklistInstance, bool]:
    """The instance of this period (idempotent): (instance, created)."""
    today = today or timezone.localdate()
    uri = without_credentials(mlf.tracking_uri())  # never store credentials that are part of a URI
    period_key, start, end = period_for(kind, today, uri)
    existing = ChecklistInstance.objects.filter(kind=kind, period_key=period_key).first()
    if existing:
        return existing, False
    definition = latest_definition(kind)
    if definition is None:
        definitions_sync()
        definition = latest_definition(kind)
        if definition is None:
            raise NotFound(f"No definition for the {kind} checklist.")
    try:
        with transaction.atomic():
            instance = ChecklistInstance.objects.create(
                definition=definition,
                kind=kind,
                period_key=period_key,
                period_start=start,
                period_end=end,
                tracking_uri=uri,
            )
            InstanceItem.objects.bulk_create(
                InstanceItem(instance=instance, position=i.position, key=i.key, text=i.text, mode=i.mode, probe=i.probe)
                for i in definition.items.all()
            )
            audit_record(
                actor=actor,
                action="checklist.create",
                target_kind="checklist",
                target_id=instance.pk,
                after={"kind": kind, "period": period_key, "definition_version": definition.version},
            )
            badge_changed("checklists")  # an instance of a past period is overdue at once
    except IntegrityError:  # created concurrently by another worker
        return ChecklistInstance.objects.get(kind=kind, period_key=period_key), False
    return instance, True


def instances_ensure(*, today: dt.date | None = None, actor: Any = SYSTEM_ACTOR) -> list[ChecklistInstance]:
    """This week's, this month's and this tracking server's initial checklist; creates what is missing."""
    definitions_sync(actor=actor)
    return [instance_create(kind=kind, today=today, actor=actor)[0] for kind in KINDS]


MAX_ID = 2**31 - 1
KEY_RE = re.compile(r"^[a-z0-9_]{1,64}$")


def _clean_text(value: str, what: str) -> str:
    value = (value or "").strip()
    if "\x00" in value:
        raise InvalidInput(f"The {what} contains a NUL character.")
    if len(value) > NOTE_MAX:
        raise InvalidInput(f"The {what} is longer than {NOTE_MAX} characters.")
    return value


def _locked_open_instance(instance_id: int) -> ChecklistInstance:
    if not 0 < instance_id <= MAX_ID:
        raise NotFound(f"No checklist instance {instance_id}.")
    instance = ChecklistInstance.objects.select_for_update().filter(pk=instance_id).first()
    if instance is None:
        raise NotFound(f"No checklist instance {instance_id}.")
    if instance.is_signed:
        raise _frozen(instance)
    return instance


def _frozen(instance: ChecklistInstance) -> Conflict:
    return Conflict(
        f"This checklist was signed off by {instance.signed_off_name} on "
        f"{instance.signed_off_at:%Y-%m-%d %H:%M} UTC and is frozen; nothing was changed."
    )


def instance_probe_run(*, instance_id: int, actor: Any = SYSTEM_ACTOR) -> list[InstanceItem]:
    """Run the probes of an open instance. Every item whose status changes writes one audit event."""
    instance = ChecklistInstance.objects.filter(pk=instance_id).first() if 0 < instance_id <= MAX_ID else None
    if instance is None:
        raise NotFound(f"No checklist instance {instance_id}.")
    if instance.is_signed:
        raise _frozen(instance)
    items = [i for i in instance.items.all() if i.has_probe]
    results = {item.key: probes.run_probe(item.probe) for item in items}  # outside the transaction: slow I/O
    changed = []
    with transaction.atomic(), audit_operation():  # one operation: the changed items of this probe run
        instance = _locked_open_instance(instance_id)
        for item in instance.items.select_for_update().filter(key__in=list(results)):
            result = results[item.key]
            before = {"key": item.key, "status": item.probe_status, "evidence": item.evidence}
            status_changed = item.probe_status != result.status
            item.probe_status, item.evidence, item.measured_at = result.status, result.evidence, result.measured_at
            item.save(update_fields=["probe_status", "evidence", "measured_at"])
            if status_changed:
                audit_record(
                    actor=actor,
                    action="checklist.probe_change",
                    target_kind="checklist",
                    target_id=instance.pk,
                    before=before,
                    after={
                        "key": item.key,
                        "status": result.status,
                        "evidence": result.evidence,
                        "measured_at": result.measured_at.isoformat(),
                    },
                )
                changed.append(item)
        instance.probed_at = timezone.now()
        instance.save(update_fields=["probed_at"])
    return changed


def item_tick(
    *, instance_id: int, key: str, actor: Any, outcome: str = PASS, note: str = "", evidence_link: str = ""
) -> InstanceItem:
    """A person confirms (or fails) a manual item with a note and an optional evidence link."""
    note = _clean_text(note, "note")
    evidence_link = _clean_text(evidence_link, "evidence link")
    if outcome not in TICK_OUTCOMES:
        raise InvalidInput(f"Outcome must be one of {', '.join(TICK_OUTCOMES)}.")
    if not note:
        raise InvalidInput("A note is required: say what was checked and how.")
    if evidence_link and (
        not evidence_link.startswith(("https://", "http://"))
        or len(evidence_link) > 500
        or any(c.isspace() for c in evidence_link)
    ):
        raise InvalidInput("The evidence link must be an http(s) URL of at most 500 characters.")
    with transaction.atomic():
        instance = _locked_open_instance(instance_id)
        item = instance.items.select_for_update().filter(key=key).first() if KEY_RE.match(key) else None
        if item is None:
            raise NotFound(f"No item '{key}' in this checklist.")
        if not item.needs_tick:
            raise RuleViolation(f"'{item.text}' is checked automatically; re-run the probes instead of ticking it.")
        before = {
            "key": key,
            "outcome": item.tick_outcome,
            "note": item.note,
            "evidence_link": item.evidence_link,
            "ticked_by": item.ticked_by_name,
        }
        item.tick_outcome, item.note, item.evidence_link = outcome, note, evidence_link
        item.ticked_at = timezone.now()
        item.ticked_by = actor if not isinstance(actor, str) else None
        item.ticked_by_name = actor_label(actor)
        item.save()
        audit_record(
            actor=actor,
            action="checklist.tick",
            target_kind="checklist",
            target_id=instance.pk,
            before=before,
            after={"key": key, "outcome": outcome, "note": note, "evidence_link": evidence_link},
        )
    return item


def instance_sign_off(*, instance_id: int, actor: Any, note: str = "") -> ChecklistInstance:
    """Freeze the instance: no tick, probe run or second sign-off changes it afterwards."""
    note = _clean_text(note, "note")
    with transaction.atomic():
        instance = _locked_open_instance(instance_id)
        items = list(instance.items.all())
        pending = [i.text for i in items if i.status == PENDING]
        if pending:
            raise RuleViolation(f"{len(pending)} manual item(s) are not ticked yet: " + "; ".join(pending[:5]))
        failing = [i.key for i in items if i.status == FAIL]
        if failing and not note:
            raise InvalidInput(f"{len(failing)} item(s) fail: a sign-off note saying why you accept that is required.")
        instance.signed_off_at = timezone.now()
        instance.signed_off_by = actor if not isinstance(actor, str) else None
        instance.signed_off_name = actor_label(actor)
        instance.sign_off_note = note
        instance.save(update_fields=["signed_off_at", "signed_off_by", "signed_off_name", "sign_off_note"])
        audit_record(
            actor=actor,
            action="checklist.sign_off",
            target_kind="checklist",
            target_id=instance.pk,
            reason=note,
            after={"period": instance.period_key, "kind": instance.kind, "items": {i.key: i.status for i in items}},
        )
        badge_changed("checklists")
    return instance


# --- Latency ---------------------------------------------------------------------------------
def latency_sample_record(*, rounds: int = 1) -> list[LatencySample]:
    """Sample the tracking server's response time (measurements, not audited state changes)."""
    return probes.take_latency_samples(rounds=rounds)


def latency_samples_prune(*, keep_days: int = 35) -> int:
    cutoff = timezone.now() - dt.timedelta(days=keep_days)
    return LatencySample.objects.filter(measured_at__lt=cutoff).delete()[0]
