"""Which registered model a name means: MLflow lets a model be deleted and another created under the same
name. The alias history, the last known alias state and open alias-change intents belong to the model they
were recorded for, told apart by MLflow's `creation_timestamp` of the registered model (kept in
`AliasState.model_created`). A different creation time means a new model: the re-creation is recorded once
(alias history and audit), the old state and unresolved intents are closed, and the next observation takes
a new baseline. Every path that reads a model's live aliases checks this first: the reconcile task and the
install baseline, the webhook receiver (through reconcile), and every alias change; and the registry index
(sync, webhook, first view), whose rows keep the creation time MLflow last showed: with no alias state
known, that one tells (a model never promoted nor reconciled here)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Exists, OuterRef

from mlopsadmin.audit.services import audit_record
from registry_ui.promotion.models import AliasChangeIntent, AliasEvent, AliasState

SYSTEM_IDENTITY = "system:alias-reconcile"
RECREATED_REASON = (
    "The registered model was deleted in MLflow and created again under the same name (its creation time "
    "changed): the alias history of the deleted model ends here and a new one starts."
)


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _void_approvals(model_name: str) -> dict[str, list[int] | int]:
    """Approvals belong to the versions they were given for: the deleted model's requests are withdrawn
    (pending or decided) and its imported approvals dropped, so its v2's approval never approves the new
    model's v2. Returns what was voided, for the `model.recreated` event."""
    from registry_ui.models import ApprovalRequest, ApprovalState, ImportedApproval

    requests = ApprovalRequest.objects.filter(model_name=model_name).exclude(state=ApprovalState.WITHDRAWN)
    ids = list(requests.order_by("id").values_list("id", flat=True))
    requests.update(
        state=ApprovalState.WITHDRAWN,
        decision_comment="Withdrawn: the registered model was deleted and re-created in MLflow.",
        updated_at=datetime.now(tz=UTC),
    )
    imported, _ = ImportedApproval.objects.filter(model_name=model_name).delete()
    return {"approvals_voided": ids, "imported_approvals_dropped": imported}


def known_state(model_name: str) -> AliasState | None:
    """The model's known alias state (None: none), with `open_intents`: whether it has intents not closed
    yet (recording.intents_resolve has work), in one query."""
    open_intents = AliasChangeIntent.objects.filter(model_name=OuterRef("model_name")).exclude(
        status=AliasChangeIntent.CLOSED
    )
    return AliasState.objects.filter(model_name=model_name).annotate(open_intents=Exists(open_intents)).first()


def has_open_intents(state: AliasState | None) -> bool:
    """False only when `state` was read by `known_state` and the model had no open intent then (under the
    model's lock nothing opens one since); True otherwise (look)."""
    return state is None or bool(getattr(state, "open_intents", True))


def model_recreated(model_name: str, created: int | None) -> bool:
    """True when the model was deleted and re-created in MLflow (see `model_identity`)."""
    return model_identity(model_name, created)[0]


def model_identity(
    model_name: str, created: int | None, *, known: tuple[AliasState | None] | None = None
) -> tuple[bool, AliasState | None, bool]:
    """Compare MLflow's creation time (`created`, ms; None when MLflow did not say) with the one the known
    alias state was recorded for. When the model was re-created: one `recreated` row is added to the alias
    history and one `model.recreated` audit event written, open intents of the deleted model are closed,
    its approvals voided (`_void_approvals`), and the known state is dropped (the caller's next step records
    the new baseline). A state recorded before creation times were kept just learns it. Call under the
    model's lock. Returns (re-created, the known alias state as it stands now (None: none known, or
    dropped), whether it was read: False when `created` is None): a caller passes the state on instead of
    reading it again (recording.record_external, issue 20); read by `known_state` when the model is the same
    (`has_open_intents` tells whether it has open intents) — or given as `known` (the caller's `known_state`
    read under the same hold of the lock, e.g. while MLflow answered: nothing changed it since)."""
    if created is None:
        return False, None, False
    # The model's lock serialises every writer of its state, so the common case (same model) is a plain read:
    # no row lock, no transaction, nothing to commit (a row lock's commit waits on the disk, issue 20). The row
    # is locked and read again only to change it.
    state = known_state(model_name) if known is None else known[0]
    if state is not None and state.model_created == created:
        return False, state, True
    if state is None and not _index_knows_another(model_name, created):
        return False, None, True
    with transaction.atomic():
        state = AliasState.objects.select_for_update().filter(model_name=model_name).first()
        if state is None:  # no alias state known: the registry index may know the deleted model
            return _recreated_in_index(model_name, created), None, True
        if state.model_created == created:
            return False, state, True
        if state.model_created is None:
            state.model_created = created
            state.save(update_fields=["model_created"])
            return False, state, True
        _drop_recreated(model_name, state, created)
    return True, None, True


def _drop_recreated(model_name: str, state: AliasState, created: int) -> None:
    """The re-creation recorded (see `model_identity`), inside its transaction."""
    intents = AliasChangeIntent.objects.filter(model_name=model_name).exclude(status=AliasChangeIntent.CLOSED)
    unresolved = list(intents.values_list("audit_event_id", flat=True))
    intents.update(status=AliasChangeIntent.CLOSED)
    before: dict[str, object] = {"aliases": state.aliases, "created": _iso(state.model_created)}
    _record_recreated(model_name, before, {"created": _iso(created), "unresolved_intents_closed": unresolved})
    state.delete()


def _index_knows_another(model_name: str, created: int) -> bool:
    """Whether the registry index holds the model with another creation time (one query, no lock)."""
    from registry_ui.models import IndexedModel

    rows = IndexedModel.objects.filter(name=model_name, creation_timestamp__isnull=False)
    return rows.exclude(creation_timestamp=created).exists()


def _recreated_in_index(model_name: str, created: int) -> bool:
    """With no alias state known, the registry index's creation time of the model tells: a different one
    means the model was re-created (recorded as in `_drop_recreated`, approvals voided) and the index row
    takes the new time, so it is recorded once whichever path sees it first (sync, webhook, first view,
    promotion). Inside the caller's transaction; False when the index does not know the model."""
    from registry_ui.models import IndexedModel

    row = IndexedModel.objects.select_for_update().filter(name=model_name).first()
    if row is None or row.creation_timestamp is None or row.creation_timestamp == created:
        return False
    before: dict[str, object] = {"aliases": dict(row.aliases or {}), "created": _iso(row.creation_timestamp)}
    _record_recreated(model_name, before, {"created": _iso(created)})
    IndexedModel.objects.filter(pk=row.pk).update(creation_timestamp=created)
    return True


def _record_recreated(model_name: str, before: dict[str, object], after: dict[str, object]) -> None:
    """One `recreated` row in the alias history and one `model.recreated` audit event; the deleted model's
    approvals voided (their ids in the event)."""
    voided = _void_approvals(model_name)
    AliasEvent.objects.create(
        model_name=model_name,
        alias="",
        action="recreated",
        actor_name="external (directly in MLflow)",
        source=AliasEvent.SOURCE_EXTERNAL,
        reason=RECREATED_REASON,
    )
    from mlopsadmin.core.selectors import team_for_model

    team = team_for_model(model_name)
    audit_record(
        actor=SYSTEM_IDENTITY,
        action="model.recreated",
        target_kind="model",
        target_id=model_name,
        team=team.name if team else "",
        before=before,
        after={**after, **voided},
        reason=RECREATED_REASON,
    )
