"""MLflow permissions in step with mlopsadmin's teams and roles (a tracking server run with basic-auth).

Intended permissions (README "MLflow permissions"; settings MLFLOW_PERMISSIONS_*):
- everyone: MLFLOW_PERMISSIONS_DEFAULT (READ) on everything, which is the server's `default_permission` and
  needs no grant;
- members of a team (with edit rights, or its ML leads): MLFLOW_PERMISSIONS_TEAM_EXPERIMENTS (EDIT) on the
  experiments under the team's prefix, and MLFLOW_PERMISSIONS_TEAM_MODELS (READ) on the team's models;
- nobody but the service account (MLFLOW_TRACKING_USERNAME) and MLFLOW_PERMISSIONS_EXEMPT_USERS more: aliases,
  approval tags and versions change only through mlopsadmin's gate, lock and audit.

`build_plan()` reads MLflow (users, their grants, experiments, models) and says who can move aliases or delete
versions today and which direct grants applying would add, change or remove. `apply_plan()` (admin action, the
command and the beat task) re-reads, applies the difference, reads MLflow back and writes one audit event.
New experiments and models are picked up by the next plan, since it is computed from MLflow's current lists.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User

from catalog.selectors import experiment_teams
from mlopsadmin import policy
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import Conflict
from mlopsadmin.core.models import Team
from mlopsadmin.core.selectors import model_ownership_map, team_for_model
from mlopsadmin.lib import mlflow_auth, mlflow_client
from mlopsadmin.lib.mlflow_auth import PRIORITY, Grant

EXPERIMENT = "experiment"
MODEL = "registered_model"
MODEL_VERSION = "registered_model_version"


@dataclass(frozen=True)
class Change:
    """One direct grant that applying would add (current ""), remove (intended "") or replace."""

    username: str
    resource_type: str
    resource_id: str  # experiment id, model name, or "*"
    resource_label: str
    current: str
    intended: str

    @property
    def kind(self) -> str:
        return "grant" if not self.current else "revoke" if not self.intended else "replace"


@dataclass(frozen=True)
class Exposure:
    """Someone who can today change a registered model outside mlopsadmin."""

    username: str
    model: str
    permission: str  # effective permission on the model
    can_move_aliases: bool
    can_delete_versions: bool
    source: str  # "direct grant", "role <name>", "MLflow admin", "default permission"
    fixed_by_sync: bool


@dataclass
class PermissionPlan:
    auth_enabled: bool
    changes: list[Change] = field(default_factory=list)
    missing_users: list[str] = field(default_factory=list)
    exposures: list[Exposure] = field(default_factory=list)
    users_checked: int = 0
    experiments: int = 0
    models: int = 0

    @property
    def in_step(self) -> bool:
        return not self.changes and not self.missing_users and not self.exposures

    def fingerprint(self) -> str:
        """Identifies the plan shown on a page, so applying refuses when MLflow changed in between."""
        payload = json.dumps([asdict(c) for c in self.changes] + self.missing_users, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _higher(a: str, b: str) -> str:
    return a if PRIORITY.get(a, 0) >= PRIORITY.get(b, 0) else b


def effective(grants: list[Grant], resource_type: str, resource_id: str, *, is_admin: bool) -> tuple[str, str]:
    """(permission, source) as MLflow resolves it (mlflow.server.auth.requirements.fold_grants_for_key and
    floor_positive_permission): admins and workspace admins MANAGE; a DENY wins; else the highest matching
    grant, never below the default; no grant: the default."""
    if is_admin:
        return "MANAGE", "MLflow admin"
    if any(g.resource_type == "workspace" and g.resource_pattern == "*" and g.permission == "MANAGE" for g in grants):
        return "MANAGE", "workspace admin"
    matching = [g for g in grants if g.resource_type == resource_type and g.resource_pattern in ("*", resource_id)]
    default = settings.MLFLOW_PERMISSIONS_DEFAULT
    if any(g.permission == "DENY" for g in matching):
        return "DENY", "deny grant"
    if not matching:
        return default, "default permission"
    best = max(matching, key=lambda g: PRIORITY.get(g.permission, 0))
    source = "direct grant" if best.direct else f"role {best.role_name}"
    return _higher(best.permission, default), source


def _intended_direct(user: User | None, experiments: list[Any], models: list[str], teams: list[Team]) -> dict:
    """{(resource_type, resource_id): permission} of the direct grants this person should have."""
    if user is None or not user.is_active or policy.is_auditor(user):
        return {}
    team_ids = policy.editable_team_ids(user) | policy.led_team_ids(user)
    default = settings.MLFLOW_PERMISSIONS_DEFAULT
    wanted: dict[tuple[str, str], str] = {}
    ownership = model_ownership_map()
    owners = experiment_teams(((e.experiment_id, e.name) for e in experiments), teams)
    for experiment in experiments:
        team = owners[experiment.experiment_id]
        if (
            team is not None
            and team.pk in team_ids
            and PRIORITY[settings.MLFLOW_PERMISSIONS_TEAM_EXPERIMENTS] > PRIORITY[default]
        ):
            wanted[(EXPERIMENT, experiment.experiment_id)] = settings.MLFLOW_PERMISSIONS_TEAM_EXPERIMENTS
    for name in models:
        team = team_for_model(name, teams, ownership)
        if (
            team is not None
            and team.pk in team_ids
            and PRIORITY[settings.MLFLOW_PERMISSIONS_TEAM_MODELS] > PRIORITY[default]
        ):
            wanted[(MODEL, name)] = settings.MLFLOW_PERMISSIONS_TEAM_MODELS
    return wanted


def _exempt(username: str) -> bool:
    return username == settings.MLFLOW_TRACKING_USERNAME or username in settings.MLFLOW_PERMISSIONS_EXEMPT_USERS


def build_plan() -> PermissionPlan:
    """Read MLflow and mlopsadmin and compute the drift. Raises the gateway's MlflowError when MLflow cannot be
    read (MlflowPermissionDenied when the service account is not an MLflow admin)."""
    if not mlflow_auth.auth_enabled():
        return PermissionPlan(auth_enabled=False)
    experiments = list(mlflow_client.iter_experiments())
    models = [m.name for m in mlflow_client.iter_registered_models()]
    labels = {(EXPERIMENT, e.experiment_id): e.name for e in experiments}
    teams = list(Team.objects.all())
    local_users = {u.username: u for u in User.objects.filter(is_active=True)}
    mlflow_users = {u.username: u for u in mlflow_auth.list_users()}
    plan = PermissionPlan(auth_enabled=True, experiments=len(experiments), models=len(models))
    for username in sorted(set(mlflow_users) | set(local_users)):
        if _exempt(username):
            continue
        wanted = _intended_direct(local_users.get(username), experiments, models, teams)
        if username not in mlflow_users:
            if wanted:
                plan.missing_users.append(username)
                plan.changes.extend(
                    Change(username, rtype, rid, labels.get((rtype, rid), rid), "", perm)
                    for (rtype, rid), perm in sorted(wanted.items())
                )
            continue
        plan.users_checked += 1
        is_admin = mlflow_users[username].is_admin
        grants = [] if is_admin else mlflow_auth.list_grants(username)
        direct = {(g.resource_type, g.resource_pattern): g.permission for g in grants if g.direct}
        for key in sorted(set(direct) | set(wanted)):
            if key[0] not in (EXPERIMENT, MODEL, MODEL_VERSION):
                continue  # other resource kinds (prompts, scorers, gateway) are not mlopsadmin's
            current, intended = direct.get(key, ""), wanted.get(key, "")
            if current != intended:
                label = labels.get(key) or ("all " + key[0].replace("_", " ") + "s" if key[1] == "*" else key[1])
                plan.changes.append(Change(username, key[0], key[1], label, current, intended))
        for name in models:
            permission, source = effective(grants, MODEL, name, is_admin=is_admin)
            version_tier = [g for g in grants if g.resource_type == MODEL_VERSION]
            deletes = (
                effective(version_tier, MODEL_VERSION, "*", is_admin=is_admin)[0] == "MANAGE"
                if version_tier
                else permission == "MANAGE"
            )
            moves = PRIORITY.get(permission, 0) >= PRIORITY["EDIT"]
            if (moves or deletes) and PRIORITY.get(permission, 0) > PRIORITY[wanted.get((MODEL, name), "READ")]:
                plan.exposures.append(
                    Exposure(username, name, permission, moves, deletes, source, source == "direct grant")
                )
    return plan


def service_account_gaps() -> tuple[str, list[str]]:
    """(what was checked, the registered models the service account may not change). mlopsadmin moves aliases
    and writes approval tags as the service account, which needs EDIT on every model (an MLflow admin has it
    everywhere); MLflow's own answer decides (its effective-permission endpoint, one request per model).
    Nothing to check without the basic-auth app. Raises the gateway's MlflowError."""
    me = mlflow_auth.current_user()
    if me is None:
        return "the tracking server has no basic-auth app", []
    if me.is_admin:
        return f"service account {me.username!r} is an MLflow admin", []
    models = [m.name for m in mlflow_client.iter_registered_models()]
    lacking = [
        name
        for name in models
        if PRIORITY.get(mlflow_auth.effective_permission(me.username, MODEL, name), 0) < PRIORITY["EDIT"]
    ]
    return f"service account {me.username!r} has EDIT on {len(models) - len(lacking)} of {len(models)} models", lacking


@dataclass
class SyncResult:
    applied: list[Change]
    failed: list[tuple[Change, str]]
    created_users: list[str]
    remaining: PermissionPlan
    event_id: int | None = None


def apply_plan(*, actor: Any, create_users: bool = False, expected_fingerprint: str = "") -> SyncResult:
    """Apply the current plan (re-read now, never a stale one); `expected_fingerprint` (from the page) makes a
    plan that changed since it was shown a Conflict. Missing MLflow users are created (random password nobody
    knows: an MLflow admin sets one) only with `create_users`. Reads MLflow back afterwards and writes one
    `mlflow_permissions.sync` audit event with what really changed. Raises MlflowError when MLflow cannot be read."""
    policy.require_actor(actor, policy.Action.MLFLOW_PERMISSIONS)  # "system:..." actors: the command and beat
    plan = build_plan()
    if expected_fingerprint and plan.fingerprint() != expected_fingerprint:
        raise Conflict("MLflow's permissions changed since the page was shown; review the new plan and apply again.")
    created: list[str] = []
    failed: list[tuple[Change, str]] = []
    skipped = set() if create_users else set(plan.missing_users)
    for username in plan.missing_users if create_users else []:
        try:
            mlflow_auth.create_user(username, secrets.token_urlsafe(24))
            created.append(username)
        except mlflow_client.MlflowConflict:
            created.append(username)  # created meanwhile: its grants follow
        except mlflow_client.MlflowError as exc:
            skipped.add(username)
            failed.extend((c, str(exc)) for c in plan.changes if c.username == username)
    for change in plan.changes:
        if change.username in skipped:
            continue
        try:
            if change.current:
                mlflow_auth.revoke(change.username, change.resource_type, change.resource_id)
            if change.intended:
                mlflow_auth.grant(change.username, change.resource_type, change.resource_id, change.intended)
        except mlflow_client.MlflowError as exc:
            failed.append((change, str(exc)))
    remaining = build_plan()  # what MLflow really holds now, whatever the answers said
    still = {(c.username, c.resource_type, c.resource_id) for c in remaining.changes}
    applied = [c for c in plan.changes if (c.username, c.resource_type, c.resource_id) not in still]
    result = SyncResult(applied, failed, created, remaining)
    if plan.changes or created or failed:
        event = audit_record(
            actor=actor,
            action="mlflow_permissions.sync",
            target_kind="mlflow",
            target_id=mlflow_client.display_uri(mlflow_client.tracking_uri()),
            before={
                "changes": [asdict(c) for c in plan.changes],
                "missing_users": plan.missing_users,
                "exposures": [asdict(e) for e in plan.exposures],
            },
            after={
                "applied": [asdict(c) for c in applied],
                "created_users": created,
                "failed": [{**asdict(c), "error": error[:300]} for c, error in failed],
                "remaining_changes": len(remaining.changes),
                "remaining_exposures": [asdict(e) for e in remaining.exposures],
            },
            outcome="ok" if not remaining.changes and not failed else "partial" if applied or created else "failed",
        )
        result.event_id = event.pk
    return result
