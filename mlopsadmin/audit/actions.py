"""The audit actions the product writes: the Action filter's list (no free text), the words an operation's
summary counts its items with ("27 runs deleted"), and the titles of operations.

A new `audit_record(action=...)` belongs here (tests/ui/test_audit_summaries.py checks every action the
code writes is listed). Actions recorded earlier under names no longer written still appear in the
filter: the recorded names are read once per AUDIT_ACTIONS_CACHE_SECONDS.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection

from mlopsadmin.core.models import AuditEvent

# action -> (one item, several items): how an operation's summary counts its events
ITEM_WORDS: dict[str, tuple[str, str]] = {
    "run.delete": ("run deleted", "runs deleted"),
    "run.purge": ("run purged", "runs purged"),
    "run.reap": ("run reaped", "runs reaped"),
    "run.restore": ("run restored", "runs restored"),
    "config.create": ("created", "created"),
    "config.update": ("updated", "updated"),
    "config.delete": ("deleted", "deleted"),
    "capacity.alert": ("alert", "alerts"),
    "checklist.probe_change": ("item changed", "items changed"),
    "checklist.definition_load": ("definition loaded", "definitions loaded"),
    "catalog.sync": ("catalog sync", "catalog syncs"),
    "cleanup.resume": ("resume", "resumes"),
    "task.interrupt": ("interruption", "interruptions"),
    "task.enqueue": ("start refused by the queue", "starts refused by the queue"),
    "registry.sync": ("registry sync", "registry syncs"),
}

# the event that starts an operation (recorded when the task is queued) -> the operation's title
OPERATION_STARTS: dict[str, str] = {
    "cleanup.execute": "cleanup executed",
    "cleanup.plan": "cleanup planned",
    "reaper.start": "reaper run",
    "reaper.reap_listed": "dry run's list reaped",
    "cleanup.restore": "cleanup restored",
    "capacity.check": "capacity check",
}
# operations whose first event is already one of their items -> title, by the action's family
OPERATION_FAMILIES: dict[str, str] = {
    "config.": "configuration applied",
    "checklist.": "checklist",
    "run.": "runs",
}

KNOWN_ACTIONS: tuple[str, ...] = (
    "api_token.create",
    "api_token.revoke",
    "approval.approve",
    "approval.import",
    "approval.reject",
    "approval.request",
    "approval.withdraw",
    "audit.checkpoint_new",
    "capacity.alert",
    "capacity.check",
    "catalog.sync",
    "checklist.create",
    "checklist.definition_edit",
    "checklist.definition_load",
    "checklist.probe_change",
    "checklist.sign_off",
    "checklist.tick",
    "cleanup.execute",
    "cleanup.plan",
    "cleanup.restore",
    "cleanup.resume",
    "config.create",
    "config.delete",
    "config.update",
    "convention.update",
    "environment.cleanup",
    "environment.copy",
    "environment.promote",
    "experiment.create",
    "experiment.purge",
    "experiment.rename",
    "experiment.tag_runs",
    "mlflow_permissions.sync",
    "model.alias_challenger",
    "model.alias_external_change",
    "model.alias_repair",
    "model.gate_policy_edit",
    "model.promote",
    "model.promote_gate_override",
    "model.recreated",
    "model.rollback",
    "model.unwatch",
    "model.watch",
    "model_ownership.create",
    "model_ownership.delete",
    "model_ownership.update",
    "model_version.tag_set",
    "naming_word.add",
    "naming_word.remove",
    "notification.failed",
    "notification.resend",
    "ownership.remove",
    "ownership.set",
    "reaper.reap_listed",
    "reaper.start",
    "registry.sync",
    "required_metadata.add",
    "required_metadata.remove",
    "role.create",
    "role.delete",
    "role.update",
    "run.delete",
    "run.purge",
    "run.reap",
    "run.restore",
    "task.enqueue",
    "task.interrupt",
    "team.create",
    "team.delete",
    "team.update",
    "user.create",
    "user.delete",
    "user.idp_sync",
    "user.roles_update",
    "user.update",
)

AUDIT_ACTIONS_CACHE_SECONDS = 60
_CACHE_KEY = "audit:recorded-actions:v1"


# A loose index scan: one probe of the (action, id) index per distinct action, instead of reading every
# event (SELECT DISTINCT took 0.6 s at 1M events; this takes a few ms for ~80 actions).
_DISTINCT_ACTIONS = f"""
WITH RECURSIVE names(action) AS (
    SELECT MIN(action) FROM {AuditEvent._meta.db_table}
    UNION ALL
    SELECT (SELECT MIN(action) FROM {AuditEvent._meta.db_table} WHERE action > names.action)
    FROM names WHERE names.action IS NOT NULL
)
SELECT action FROM names WHERE action IS NOT NULL
"""


def recorded_actions() -> list[str]:
    """Every action name in the audit table (a loose index scan, cached for AUDIT_ACTIONS_CACHE_SECONDS)."""
    names = cache.get(_CACHE_KEY)
    if names is None:
        with connection.cursor() as cursor:
            cursor.execute(_DISTINCT_ACTIONS)
            names = sorted(row[0] for row in cursor.fetchall())
        cache.set(_CACHE_KEY, names, AUDIT_ACTIONS_CACHE_SECONDS)
    return list(names)


def action_choices(selected: str = "") -> list[tuple[str, list[tuple[str, str]]]]:
    """The Action filter's options grouped by family: [(family, [(value, label), ...])]. Each family
    starts with its prefix ("approval.": every approval action), then each known or recorded action
    (and the selected value, whatever it is, so a shared link keeps showing its filter)."""
    names = set(KNOWN_ACTIONS) | set(recorded_actions())
    if selected and not selected.endswith((".", "*")):
        names.add(selected)
    families: dict[str, list[str]] = {}
    for name in sorted(names):
        families.setdefault(name.split(".", 1)[0] if "." in name else name, []).append(name)
    groups = []
    for family, members in sorted(families.items()):
        options = [(f"{family}.", f"every {family} action")] if "." in members[0] else []
        options += [(name, name) for name in members]
        groups.append((family, options))
    return groups
