"""Explicit model ownership one model at a time (the file sets it in bulk), and the answer to "who owns
this model, and by which rule" (docs/configuration.md, precedence)."""

from __future__ import annotations

import fnmatch
from typing import Any

from django.db import transaction

from configuration.selectors import pattern_rules
from mlopsadmin import policy
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import NotFound
from mlopsadmin.core.models import ModelOwnership, Team
from mlopsadmin.core.selectors import team_for_model
from registry_ui import validation


def model_owner_explain(model_name: str) -> dict[str, Any]:
    """{'model_name', 'team' (key or None), 'rule'}: rule is 'explicit', 'pattern <glob>', 'model_regex of
    <team>' or 'none'. InvalidInput for a name MLflow refuses (registry_ui/validation.py)."""
    model_name = validation.model_name(model_name)
    team = team_for_model(model_name)
    glob = next(((p, tid) for p, tid in pattern_rules() if fnmatch.fnmatchcase(model_name, p)), None)
    if team is None:
        rule = "none"
    elif ModelOwnership.objects.filter(model_name=model_name).exists():
        rule = "explicit"
    elif glob is not None and glob[1] == team.pk:
        rule = f"pattern {glob[0]}"
    else:
        rule = f"model_regex of {team.name}"
    return {"model_name": model_name, "team": team.name if team else None, "rule": rule}


def model_owner_set(*, actor: Any, model_name: str, team_name: str | None) -> dict[str, Any]:
    """Assign `model_name` explicitly to a team (None: remove the explicit assignment, patterns apply
    again). Admins only (policy TEAM_MANAGE). One audit event when something changed. Raises InvalidInput
    (bad name), NotFound (unknown team), PermissionDenied."""
    if not isinstance(actor, str):  # a person (page, API); strings are system actors (manage.py)
        policy.require(actor, policy.Action.TEAM_MANAGE)
    model_name = validation.model_name(model_name)
    with transaction.atomic():
        current = ModelOwnership.objects.select_for_update().filter(model_name=model_name).first()
        before = current.team.name if current else None
        if team_name is None:
            if current:
                current.delete()
        else:
            team = Team.objects.filter(name=team_name).first()
            if team is None:
                raise NotFound(f"Unknown team '{team_name}'.")
            ModelOwnership.objects.update_or_create(model_name=model_name, defaults={"team": team})
        if before != team_name:
            audit_record(
                actor=actor,
                action="ownership.set" if team_name else "ownership.remove",
                target_kind="model",
                target_id=model_name,
                team=team_name or before or "",
                before={"explicit_team": before},
                after={"explicit_team": team_name},
            )
    return model_owner_explain(model_name)
