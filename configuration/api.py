"""API of the configuration file, for admins: export the live configuration, apply a file (dry run
first). The same services as `manage.py export_config` / `apply_config`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from configuration.ownership import model_owner_explain, model_owner_set
from configuration.services import config_apply, config_export
from mlopsadmin import policy
from mlopsadmin.policy import Action

router = Router(tags=["configuration"])


class ConfigOut(Schema):
    toml: str = Field(description="The live configuration as TOML (docs/configuration.md).")


class ApplyIn(Schema):
    toml: str = Field(max_length=2_000_000, description="A configuration file's text.")
    dry_run: bool = Field(True, description="Only list the changes (the default).")


class ChangeOut(Schema):
    key: str
    op: str
    before: Any = None
    after: Any = None


class ApplyOut(Schema):
    applied: bool
    changes: list[ChangeOut]


@router.get("/config", response=ConfigOut, summary="The live configuration as TOML (admins)")
def export_config(request: HttpRequest) -> dict[str, str]:
    policy.require(request.user, Action.CONFIG_MANAGE)
    return {"toml": config_export()}


@router.post("/config/apply", response=ApplyOut, summary="Apply a configuration file (dry run by default; admins)")
def apply_config(request: HttpRequest, payload: ApplyIn) -> dict[str, Any]:
    policy.require(request.user, Action.CONFIG_MANAGE)
    result = config_apply(actor=request.user, text=payload.toml, source="API", dry_run=payload.dry_run)
    return {"applied": result.applied, "changes": [c.as_json() for c in result.changes]}


class OwnerOut(Schema):
    model_name: str
    team: str | None
    rule: str = Field(description="explicit, pattern <glob>, model_regex of <team>, or none")


class OwnerIn(Schema):
    model_name: str = Field(min_length=1, max_length=256)
    team: str | None = Field(None, description="Team key; null removes the explicit assignment.")


@router.get("/ownership", response=OwnerOut, summary="Which team owns a registered model, and by which rule")
def model_owner(request: HttpRequest, model_name: str = Query(..., min_length=1, max_length=256)) -> dict[str, Any]:
    return model_owner_explain(model_name)


@router.post("/ownership", response=OwnerOut, summary="Assign a model to a team explicitly (admins)")
def model_owner_assign(request: HttpRequest, payload: OwnerIn) -> dict[str, Any]:
    policy.require(request.user, Action.TEAM_MANAGE)
    return model_owner_set(actor=request.user, model_name=payload.model_name, team_name=payload.team)
