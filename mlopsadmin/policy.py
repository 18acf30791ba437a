"""The one place that answers "may this user do this action on this target?".

Pages, the JSON API and services all ask `can()` / `require()`; nothing else decides permissions.

Roles are Django groups (ROLE_*). Team scope comes from Membership. An auditor is read-only
everywhere, whatever else they hold. Four-eyes (a requester never decides their own request) is a
rule about a particular request, so the approval service enforces it on top of `approval.decide`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied

if TYPE_CHECKING:
    from mlopsadmin.core.models import Team

ROLE_ML_LEAD = "ML lead"
ROLE_OPERATOR = "Operator"
ROLE_AUDITOR = "Auditor"
ROLE_ADMIN = "Admin"
ALL_ROLES = [ROLE_ML_LEAD, ROLE_OPERATOR, ROLE_AUDITOR, ROLE_ADMIN]


class Action(StrEnum):
    VIEW = "view"
    COMPARE = "compare"  # versions or runs side by side (read-only): everyone signed in
    AUDIT_VIEW = "audit.view"
    AUDIT_VERIFY = "audit.verify"  # walk the hash chain (audit feature): auditors and admins
    # experiments (catalog)
    EXPERIMENT_CREATE = "experiment.create"
    EXPERIMENT_RENAME = "experiment.rename"
    EXPERIMENT_TAG_RUNS = "experiment.tag_runs"
    CATALOG_SYNC = "catalog.sync"
    CONVENTION_EDIT = "convention.edit"
    EXPERIMENT_PURGE = "experiment.purge"  # permanently delete a soft-deleted experiment (frees its name)
    # registry
    MODEL_EDIT_TAGS = "model.edit_tags"
    MODEL_SETTINGS_EDIT = "model.settings_edit"
    APPROVAL_REQUEST = "approval.request"
    APPROVAL_WITHDRAW = "approval.withdraw"
    APPROVAL_DECIDE = "approval.decide"
    ALIAS_CHALLENGER = "alias.challenger"
    ALIAS_PROTECTED = "alias.protected"  # champion / previous-champion: promote, roll back, repair
    GATE_OVERRIDE = "gate.override"
    ENVIRONMENT_PROMOTE = "environment.promote"  # copy a version to the next environment (issue 22)
    # maintenance and checklists
    MAINTENANCE_RUN = "maintenance.run"
    CLEANUP_RESTORE = "cleanup.restore"  # bring back runs a cleanup soft-deleted: who may run cleanup
    CHECKLIST_TICK = "checklist.tick"
    CHECKLIST_SIGN_OFF = "checklist.sign_off"
    CHECKLIST_EDIT = "checklist.edit"
    # administration
    TEAM_MANAGE = "team.manage"
    CONFIG_MANAGE = "config.manage"  # export / apply the configuration file
    TOKEN_MANAGE_OWN = "token.manage_own"
    # notifications
    NOTIFICATION_LOG_VIEW = "notification.log_view"  # the delivery log: admins and operators
    NOTIFICATION_RESEND = "notification.resend"
    MODEL_WATCH = "model.watch"  # one's own watch list: anyone signed in but auditors
    MLFLOW_PERMISSIONS = "mlflow.permissions"  # see and apply the MLflow permission drift (issue 17)


READ_ONLY_ACTIONS = {Action.VIEW, Action.COMPARE, Action.AUDIT_VIEW, Action.AUDIT_VERIFY}

# Actions scoped to a team: an ML lead of *that* team (or an admin) may do them.
LEAD_OF_TEAM_ACTIONS = {
    Action.EXPERIMENT_RENAME,
    Action.EXPERIMENT_TAG_RUNS,
    Action.APPROVAL_DECIDE,
    Action.ALIAS_PROTECTED,
    Action.MODEL_SETTINGS_EDIT,
    Action.ENVIRONMENT_PROMOTE,
}
# Actions any member of the team with edit rights may do (leads and admins too).
MEMBER_OF_TEAM_ACTIONS = {
    Action.EXPERIMENT_CREATE,
    Action.MODEL_EDIT_TAGS,
    Action.APPROVAL_REQUEST,
    Action.APPROVAL_WITHDRAW,
    Action.ALIAS_CHALLENGER,
}
OPERATOR_ACTIONS = {
    Action.MAINTENANCE_RUN,
    Action.CLEANUP_RESTORE,
    Action.CHECKLIST_TICK,
    Action.CHECKLIST_SIGN_OFF,
    Action.CATALOG_SYNC,
    Action.NOTIFICATION_LOG_VIEW,
    Action.NOTIFICATION_RESEND,
}
ADMIN_ONLY_ACTIONS = {
    Action.CONVENTION_EDIT,
    Action.GATE_OVERRIDE,
    Action.CHECKLIST_EDIT,
    Action.TEAM_MANAGE,
    Action.MLFLOW_PERMISSIONS,
    Action.CONFIG_MANAGE,
    Action.EXPERIMENT_PURGE,
}


def role_names(user: Any) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    if getattr(user, "_policy_roles", None) is None:
        _load_user_scope(user)
    roles: set[str] = user._policy_roles
    return roles


def has_role(user: Any, role: str) -> bool:
    return role in role_names(user)


def is_admin(user: Any) -> bool:
    return has_role(user, ROLE_ADMIN) and not has_role(user, ROLE_AUDITOR)


def is_auditor(user: Any) -> bool:
    return has_role(user, ROLE_AUDITOR)


def _load_user_scope(user: Any) -> None:
    """The user's roles (its groups; admin for a superuser) and both membership caches, kept on the user
    object, from one query (a permission check needs both: issue 20)."""
    from django.contrib.auth.models import Group
    from django.db.models import BooleanField, CharField, IntegerField, Value

    from mlopsadmin.core.models import Membership

    roles = Group.objects.filter(user=user).values_list(
        "name", Value(None, output_field=IntegerField()), Value(False, output_field=BooleanField())
    )
    teams = Membership.objects.filter(user=user).values_list(
        Value(None, output_field=CharField()), "team_id", "can_edit"
    )
    rows = list(roles.order_by().union(teams.order_by(), all=True))
    user._policy_roles = {name for name, team_id, _ in rows if team_id is None and name is not None}
    if user.is_superuser:
        user._policy_roles.add(ROLE_ADMIN)
    user._policy_member_teams = {team_id for _, team_id, _ in rows if team_id is not None}
    user._policy_edit_teams = {team_id for _, team_id, can_edit in rows if team_id is not None and can_edit}


def editable_team_ids(user: Any) -> set[int]:
    """Teams where the user is a member with edit rights."""
    if getattr(user, "_policy_edit_teams", None) is None:
        _load_user_scope(user)
    teams: set[int] = user._policy_edit_teams
    return teams


def member_team_ids(user: Any) -> set[int]:
    if getattr(user, "_policy_member_teams", None) is None:
        _load_user_scope(user)
    teams: set[int] = user._policy_member_teams
    return teams


def led_team_ids(user: Any) -> set[int]:
    """Teams the user leads: an ML lead leads the teams they are a member of."""
    return member_team_ids(user) if has_role(user, ROLE_ML_LEAD) else set()


def can(user: Any, action: Action | str, *, team: Team | None = None) -> bool:
    action = Action(action)
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    roles = role_names(user)
    if action in (Action.VIEW, Action.COMPARE):
        return True
    if action == Action.AUDIT_VIEW:
        return bool(roles & {ROLE_AUDITOR, ROLE_ADMIN, ROLE_OPERATOR, ROLE_ML_LEAD})
    if action == Action.AUDIT_VERIFY:
        return bool(roles & {ROLE_AUDITOR, ROLE_ADMIN})
    if ROLE_AUDITOR in roles:
        return False  # read-only, everywhere
    if ROLE_ADMIN in roles:
        return True
    if action in (Action.TOKEN_MANAGE_OWN, Action.MODEL_WATCH):
        return True
    if action in ADMIN_ONLY_ACTIONS:
        return False
    if action in OPERATOR_ACTIONS:
        return ROLE_OPERATOR in roles
    if team is None:
        return False
    if action in LEAD_OF_TEAM_ACTIONS:
        return team.pk in led_team_ids(user)
    if action in MEMBER_OF_TEAM_ACTIONS:
        return team.pk in editable_team_ids(user) or team.pk in led_team_ids(user)
    return False


def require(user: Any, action: Action | str, *, team: Team | None = None) -> None:
    """PermissionDenied (403 on pages and API) unless `can(user, action, team=team)`."""
    if not can(user, action, team=team):
        raise PermissionDenied(denial_message(action, team))


def require_actor(actor: Any, action: Action | str, *, team: Team | None = None) -> None:
    """`require` for services that trusted host processes call too: an actor given as a string (e.g.
    "system:create_user" from a management command, a task's system name) is not a signed-in person and is
    not checked; a user is checked like `require`."""
    if isinstance(actor, str):
        return
    require(actor, action, team=team)


def denial_message(action: Action | str, team: Team | None) -> str:
    action = Action(action)
    if action in LEAD_OF_TEAM_ACTIONS:
        who = f"an ML lead of team {team}" if team else "an ML lead of the owning team"
    elif action in MEMBER_OF_TEAM_ACTIONS:
        who = f"a member of team {team} with edit rights" if team else "a member of the owning team"
    elif action in OPERATOR_ACTIONS:
        who = "an operator"
    elif action == Action.AUDIT_VIEW:
        who = "an auditor, admin, operator or ML lead"
    elif action == Action.AUDIT_VERIFY:
        who = "an auditor or admin"
    else:
        who = "an admin"
    return f"Only {who} may do this ({action.value})."
