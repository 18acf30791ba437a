"""One story of a model across its environments (issue 22: "the alias history and audit log show
cross-environment moves as one story: copied from dev v12 → prod v4 → @champion in prod").

The story of base model `m` is: its copies between environments (audit `environment.copy` when one
started, `environment.promote` its outcome), the
approvals asked for and given per environment (requests keyed '<env>:<model there>'), and the alias moves
of its name in every environment this mlopsadmin manages (the default registry: prefix environments, or
the server environment that is the default server), a move onto a copied version saying where that
version came from. The page shows it oldest first; the audit export's `story=<m>` filter selects the same
events (mlopsadmin.audit.selectors)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib.mlflow_connection import display_uri, tracking_uri
from registry_ui.environments.config import Environment, environments
from registry_ui.promotion.models import AliasEvent

PROMOTE_ACTION = "environment.promote"
STARTED_ACTION = "environment.copy"  # a copy started (pending): the only trace of one killed mid-way
COPY_ACTIONS = (PROMOTE_ACTION, STARTED_ACTION)
LIMIT = 200


def managed_environments(envs: list[Environment]) -> dict[str, Environment]:
    """{name: environment} of the environments whose models (and aliases) live in the default registry."""
    default = display_uri(tracking_uri()).rstrip("/")
    return {e.name: e for e in envs if e.kind == "prefix" or display_uri(e.tracking_uri).rstrip("/") == default}


def story_base(name: str, envs: list[Environment]) -> str:
    """The base name of the model `name` names: a prefix environment's registered name ('prod.churn') is
    the story of 'churn' (copies are recorded under the base name; the longest prefix wins); any other
    name is a base name."""
    prefixed = [e for e in envs if e.kind == "prefix" and e.prefix and name.startswith(e.prefix)]
    return name[len(max(prefixed, key=lambda e: len(e.prefix)).prefix) :] if prefixed else name


def story_condition(name: str) -> Q:
    """The audit events of the story of model `name` (its base name, or its name in a prefix environment:
    story_base; see the module docstring), as one filter condition."""
    envs = environments()
    return _condition(story_base(name, envs), envs)


def _condition(base: str, envs: list[Environment]) -> Q:
    names = sorted({e.model_name(base) for e in managed_environments(envs).values()} | {base})
    q = Q(action__in=COPY_ACTIONS, target_id__startswith=f"{base}/")
    q |= Q(target_kind="model", target_id__in=names)
    for env in envs:
        q |= Q(target_kind="model_version", target_id__startswith=f"{env.name}:{env.model_name(base)}/")
    return q


@dataclass(frozen=True)
class StoryItem:
    at: datetime
    environment: str
    kind: str  # copy-started, copy, copy-failed, approval, alias
    text: str
    actor: str


def _copy_item(event: AuditEvent) -> StoryItem:
    before, after = event.before or {}, event.after or {}
    source = f"{before.get('environment', '?')} v{before.get('version', '?')}"
    if event.outcome == "ok":
        text = f"copied from {source} → {after.get('environment', '?')} v{after.get('version', '?')}"
        return StoryItem(event.occurred_at, str(after.get("environment", "")), "copy", text, event.actor_name)
    text = f"copy of {source} to {after.get('environment', 'the next environment')} refused or failed: {event.reason}"
    return StoryItem(event.occurred_at, str(after.get("environment", "")), "copy-failed", text, event.actor_name)


def _started_item(event: AuditEvent) -> StoryItem:
    before, after = event.before or {}, event.after or {}
    source = f"{before.get('environment', '?')} v{before.get('version', '?')}"
    target = str(after.get("environment", ""))
    text = f"copy of {source} → {target or 'the next environment'} started (copy {after.get('copy_id', '?')})"
    return StoryItem(event.occurred_at, target, "copy-started", text, event.actor_name)


def model_story(base: str, *, limit: int = LIMIT) -> list[StoryItem]:
    """The story of base model `base` across environments, oldest first (at most `limit` items, the newest)."""
    envs = environments()
    managed = managed_environments(envs)
    events = list(
        AuditEvent.objects.filter(_condition(base, envs))
        .filter(Q(action__in=COPY_ACTIONS) | Q(action__startswith="approval."))
        .order_by("-id")[:limit]
    )
    items: list[StoryItem] = []
    copies: dict[tuple[str, str], str] = {}  # (environment, version there) → "dev v12"
    for event in events:
        if event.action == STARTED_ACTION:
            items.append(_started_item(event))
        elif event.action == PROMOTE_ACTION:
            items.append(_copy_item(event))
            before, after = event.before or {}, event.after or {}
            if event.outcome == "ok":
                copies[(str(after.get("environment")), str(after.get("version")))] = (
                    f"{before.get('environment')} v{before.get('version')}"
                )
        else:
            env_name, _, rest = event.target_id.partition(":")
            version = rest.rsplit("/", 1)[-1]
            verb = event.action.removeprefix("approval.")
            text = f"approval for {env_name}: {verb} (v{version} of the previous environment)"
            items.append(StoryItem(event.occurred_at, env_name, "approval", text, event.actor_name))
    for env in managed.values():
        name = env.model_name(base)
        for move in AliasEvent.objects.filter(model_name=name).order_by("-occurred_at", "-id")[:limit]:
            items.append(_alias_item(env, move, copies))
    items.sort(key=lambda item: item.at)
    return items[-limit:]


def _alias_item(env: Environment, move: Any, copies: dict[tuple[str, str], str]) -> StoryItem:
    if move.to_version:
        origin = copies.get((env.name, move.to_version))
        text = f"@{move.alias} → v{move.to_version} in {env.name}" + (f" (copied from {origin})" if origin else "")
    else:
        text = f"@{move.alias} removed in {env.name} (was v{move.from_version})"
    if move.source != AliasEvent.SOURCE_MLOPSADMIN:
        text += f" [{move.get_source_display()}]"
    return StoryItem(move.occurred_at, env.name, "alias", text, move.actor_name)
