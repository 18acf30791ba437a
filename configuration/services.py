"""Export and apply of the configuration file: the diff between a file and the live state, applied in
one transaction with one audit event per changed unit (or nothing at all when any step fails)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from configuration import selectors
from configuration.files import ConfigInvalid, Problem, parse
from configuration.render import render
from configuration.state import live_units, write_unit
from mlopsadmin.audit.operations import audit_operation
from mlopsadmin.audit.services import actor_label, audit_record
from mlopsadmin.core.models import Team

# Order of writes: teams first (others refer to them), team removals last.
_ORDER = ("team", "ownership", "user", "gate.team", "gate.model")


@dataclass(frozen=True)
class Change:
    key: str  # unit key, e.g. 'team:search'
    op: str  # create, update, delete
    before: Any
    after: Any

    def describe(self) -> str:
        if self.op == "create":
            return f"+ {self.key}: {self.after}"
        if self.op == "delete":
            return f"- {self.key}: {self.before}"
        if isinstance(self.before, dict) and isinstance(self.after, dict):
            parts = [
                f"{k}: {self.before.get(k)!r} → {self.after.get(k)!r}"
                for k in sorted(set(self.before) | set(self.after))
                if self.before.get(k) != self.after.get(k)
            ]
            return f"~ {self.key}: " + "; ".join(parts)
        return f"~ {self.key}: {self.before!r} → {self.after!r}"

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "op": self.op, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class ApplyResult:
    changes: list[Change]
    applied: bool


def config_export() -> str:
    """The live configuration as TOML text (the format apply_config reads)."""
    return render(live_units())


def config_diff(text: str, *, source: str = "configuration") -> list[Change]:
    """The changes applying `text` would make, in apply order. Raises ConfigInvalid."""
    current = live_units()
    existing = set(Team.objects.values_list("name", flat=True))
    desired = parse(text, source=source, existing_teams=existing)
    changes = []
    for key, after in desired.units.items():
        if not desired.manages(key):
            continue
        before = current.get(key)
        if before is None:
            changes.append(Change(key, "create", None, after))
        elif before != after:
            changes.append(Change(key, "update", before, after))
    for key, before in current.items():
        if key not in desired.units and desired.manages(key) and not key.startswith("user:"):
            changes.append(Change(key, "delete", before, None))

    def order(change: Change) -> tuple[int, str]:
        kind = change.key.partition(":")[0]
        if change.op == "delete" and kind == "team":
            return (99, change.key)
        return (_ORDER.index(kind) if kind in _ORDER else len(_ORDER), change.key)

    return sorted(changes, key=order)


def _audit_target(key: str) -> tuple[str, str, str]:
    """(target_kind, target_id, team) of a unit's audit event."""
    kind, _, name = key.partition(":")
    if kind == "team":
        return "team", name, name
    if kind == "user":
        return "user", name, ""
    if kind in ("ownership", "gate.model"):
        return "model", name, ""
    if kind == "gate.team":
        return "team", name, name
    return "config", key, ""


def config_apply(*, actor: Any, text: str, source: str = "configuration", dry_run: bool = False) -> ApplyResult:
    """Apply a configuration text: validate (ConfigInvalid, nothing changed), diff, then write every change
    in one transaction, each with one audit event 'config.<op>' (reason names the source). Applying the
    exported file of the same install yields no change and no event. A write the database refuses rolls
    everything back and raises ConfigInvalid naming the unit."""
    changes = config_diff(text, source=source)
    if dry_run or not changes:
        return ApplyResult(changes, applied=False)
    actor_name = actor_label(actor)
    try:
        with transaction.atomic(), audit_operation():  # one operation: the audit page folds its changes
            for change in changes:
                write_unit(change.key, change.after, actor_name)
                target_kind, target_id, team = _audit_target(change.key)
                audit_record(
                    actor=actor,
                    action=f"config.{change.op}",
                    target_kind=target_kind,
                    target_id=target_id,
                    team=team,
                    before={"unit": change.key, "value": change.before},
                    after={"unit": change.key, "value": change.after},
                    reason=f"apply_config {source}",
                )
    except IntegrityError as exc:
        raise ConfigInvalid(source, [Problem(1, "", f"the database refused the change: {exc}")]) from exc
    selectors.clear_caches()
    if any(c.key.startswith(("team:", "naming.experiments", "required_run_tags")) for c in changes):
        from catalog.services import catalog_evaluate

        catalog_evaluate()
    return ApplyResult(changes, applied=True)
