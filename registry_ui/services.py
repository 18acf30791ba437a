"""Writes of the model pages: version metadata tags (MLflow) and the registry conventions (naming words,
required metadata keys). Every function checks the actor's permission through `mlopsadmin.policy` itself
and writes one audit event. The approval workflow's writes are in `registry_ui/approvals/services.py`."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.db import transaction

from mlopsadmin import policy
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import Conflict, DomainError, InvalidInput, NotFound, RuleViolation
from mlopsadmin.core.selectors import team_for_model
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import validation
from registry_ui.approvals.selectors import APPROVAL_TAGS
from registry_ui.models import NamingWord, NamingWordKind, RequiredMetadataKey
from registry_ui.tag_watch import tag_write_watch
from registry_ui.tag_writes import NotSent, version_tags_write

logger = logging.getLogger(__name__)

TAG_KEY_RE = re.compile(r"^[/\w.\- :]{1,250}$")  # MLflow's rule for tag names
MAX_TAG_VALUE = 5000
WORKFLOW_TAGS = set(APPROVAL_TAGS)  # written only by an approval


def live_version(model_name: str, version: str, *, for_what: str) -> mlf.ModelVersion:
    """The version from MLflow, or a clear refusal when it is unknown, deleted or failed to register."""
    try:
        found = mlf.get_model_version(model_name, version)
    except mlf.MlflowNotFound as exc:
        raise NotFound(
            f"Model version {model_name}/{version} does not exist in MLflow (unknown or deleted): cannot {for_what}."
        ) from exc
    except mlf.MlflowInvalid as exc:
        raise InvalidInput(f"MLflow refused {model_name}/{version}: {exc}") from exc
    if found.status and found.status not in ("READY", "ModelVersionStatus.READY"):
        raise RuleViolation(f"Model version {model_name}/{version} is {found.status}, not READY: cannot {for_what}.")
    return found


# --- Version tags -------------------------------------------------------------------------------------
def version_tag_set(*, actor: Any, model_name: str, version: str | int, key: str, value: str) -> str | None:
    """Set (or, with an empty value, delete) one version tag in MLflow; audited with before/after.
    Returns the new value (None when deleted)."""
    model_name = validation.model_name(model_name)
    version = validation.model_version(version)
    key = validation.text_field(key, field="Tag name", limit=250, required=True)
    value = validation.text_field(value, field="Tag value", limit=MAX_TAG_VALUE)
    if not TAG_KEY_RE.match(key):
        raise InvalidInput(f"Tag name {key!r} may only contain letters, digits, '_', '-', '.', ' ', ':' and '/'.")
    if key in WORKFLOW_TAGS:
        raise RuleViolation(f"'{key}' is written only by the approval workflow (request and approve the version).")
    team = team_for_model(model_name)
    policy.require(actor, policy.Action.MODEL_EDIT_TAGS, team=team)
    current = live_version(model_name, version, for_what="edit its tags")
    before = current.tags.get(key)
    if before == (value or None):
        return before
    target = f"{model_name}/{version}"
    wanted = {key: value or None}
    written = version_tags_write(model_name, version, wanted)
    note, outcome, shown = "", "ok", value or None
    if written.error is not None:  # refused, timed out or answer lost: MLflow read back says what happened
        shown = None if written.observed is None else written.observed.get(key)
        outcome = "unknown" if written.observed is None else ("ok" if shown == (value or None) else "failed")
        note = (
            f"MLflow's answer: {written.error}; read back: "
            + {
                "unknown": "MLflow could not be read, the outcome is unknown",
                "ok": "the change is in MLflow",
                "failed": "MLflow shows the tag unchanged",
            }[outcome]
        )
    lost = isinstance(written.error, mlf.MlflowUnavailable | mlf.MlflowServerError) and not isinstance(
        written.error, NotSent
    )
    watched = outcome == "unknown" or (outcome == "failed" and lost)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="model_version.tag_set",
            target_kind="model_version",
            target_id=target,
            team=team.name if team else "",
            before={key: before},
            after={key: shown if outcome == "failed" else value or None},
            outcome=outcome,
            reason=note,
        )
        if watched:  # MLflow may still apply it: settled later from what it shows (registry_ui/tag_watch.py)
            tag_write_watch(
                actor=actor,
                model_name=model_name,
                version=version,
                key=key,
                wanted=value or None,
                before=before,
                team=team.name if team else "",
                recorded=outcome,
            )
    if outcome != "ok" and written.error is not None:
        if watched:
            raise TagWriteUnsettled(
                f"MLflow did not confirm the tag {key} of {target} ({written.error}); "
                + (
                    "MLflow could not be read back, so the outcome is unknown. "
                    if outcome == "unknown"
                    else "read back: MLflow shows it unchanged, but its answer was lost, so MLflow may still apply "
                    "it late. "
                )
                + "mlopsadmin reads MLflow again and records what it shows, attributed to you."
            )
        raise written.error
    return value or None


class TagWriteUnsettled(DomainError):
    """A tag write whose answer was lost and whose outcome MLflow has not settled yet (watched)."""

    status = 503
    title = "MLflow did not confirm the tag change"


# --- Editable data: naming words, required metadata keys ---------------------------------------------
def naming_word_add(*, actor: Any, word: str, kind: str) -> NamingWord:
    policy.require(actor, policy.Action.CONVENTION_EDIT)
    word = validation.text_field(word, field="Word", limit=64, required=True).lower()
    if not re.fullmatch(r"[a-z0-9]+", word):
        raise InvalidInput("A naming word is one lowercase token of letters and digits (e.g. 'xgboost').")
    if kind not in NamingWordKind.values:
        raise InvalidInput(f"Kind must be one of {', '.join(NamingWordKind.values)}.")
    with transaction.atomic():
        existing = NamingWord.objects.select_for_update().filter(word=word).first()
        if existing and existing.kind == kind:
            raise Conflict(f"'{word}' is already on the {existing.get_kind_display()} list.")
        before = {"word": word, "kind": existing.kind} if existing else None
        obj, _ = NamingWord.objects.update_or_create(word=word, defaults={"kind": kind})
        audit_record(
            actor=actor,
            action="naming_word.add",
            target_kind="model",
            target_id=f"naming-word:{word}",
            before=before,
            after={"word": word, "kind": kind},
        )
    return obj


def naming_word_remove(*, actor: Any, word_id: int) -> None:
    policy.require(actor, policy.Action.CONVENTION_EDIT)
    with transaction.atomic():
        obj = NamingWord.objects.select_for_update().filter(pk=word_id).first()
        if obj is None:
            raise NotFound("No such naming word.")
        before = {"word": obj.word, "kind": obj.kind}
        obj.delete()
        audit_record(
            actor=actor,
            action="naming_word.remove",
            target_kind="model",
            target_id=f"naming-word:{before['word']}",
            before=before,
            after=None,
        )


def required_key_add(*, actor: Any, key: str, description: str = "") -> RequiredMetadataKey:
    policy.require(actor, policy.Action.CONVENTION_EDIT)
    key = validation.text_field(key, field="Tag name", limit=250, required=True)
    description = validation.text_field(description, field="Description", limit=200)
    if not TAG_KEY_RE.match(key):
        raise InvalidInput(f"Tag name {key!r} may only contain letters, digits, '_', '-', '.', ' ', ':' and '/'.")
    with transaction.atomic():
        if RequiredMetadataKey.objects.filter(key=key).exists():
            raise Conflict(f"'{key}' is already required.")
        position = (
            RequiredMetadataKey.objects.order_by("-position").values_list("position", flat=True).first() or 0
        ) + 1
        obj = RequiredMetadataKey.objects.create(key=key, description=description, position=position)
        audit_record(
            actor=actor,
            action="required_metadata.add",
            target_kind="model",
            target_id=f"required-metadata:{key}",
            after={"key": key, "description": description},
        )
    return obj


def required_key_remove(*, actor: Any, key_id: int) -> None:
    policy.require(actor, policy.Action.CONVENTION_EDIT)
    with transaction.atomic():
        obj = RequiredMetadataKey.objects.select_for_update().filter(pk=key_id).first()
        if obj is None:
            raise NotFound("No such required metadata key.")
        before = {"key": obj.key, "description": obj.description}
        obj.delete()
        audit_record(
            actor=actor,
            action="required_metadata.remove",
            target_kind="model",
            target_id=f"required-metadata:{before['key']}",
            before=before,
            after=None,
        )
