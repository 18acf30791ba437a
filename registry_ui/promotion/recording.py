"""What an alias change records, and when: read-back is the truth.

1. Before MLflow is touched, `intent_open` commits one audit event in state `pending` with the planned
   moves (and an `AliasChangeIntent` row that says the outcome is not known yet).
2. After the writes, `read_back` asks MLflow what it shows now; `outcome_record` compares that with the
   plan and records the outcome (ok / partial / failed) from it, never from which calls returned. When
   MLflow cannot be read back the outcome is `unknown` and the intent stays open.
3. `intents_resolve` (reconciliation, and every later change of the model, under its lock) reads MLflow
   and records the outcome of open intents, and moves applied late by a write whose answer was lost,
   attributed to the original actor and action. Only what no intent explains is an external change.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from mlopsadmin.audit.services import actor_label, audit_record
from notifications import events as notification_events
from registry_ui import index_store
from registry_ui.promotion import plans
from registry_ui.promotion.models import AliasChangeIntent, AliasEvent, AliasState, AliasWatch
from registry_ui.promotion.observed import Observed, compare, outcome_of, read_back

logger = logging.getLogger(__name__)

SYSTEM_RECONCILER = "system:alias-reconcile"
WATCH_SECONDS = 600  # a write whose answer was lost can still be applied from the server's backlog


def step_labels(plan: plans.Plan) -> list[str]:
    return [m.describe() for m in plan.moves] + plan.tag_labels


def plan_as_json(plan: plans.Plan) -> dict[str, Any]:
    return {
        "action": plan.action,
        "before": plan.before,
        "moves": [[m.alias, m.from_version, m.to_version] for m in plan.moves],
        "tags": [list(t) for t in plan.tags],
        "source_version": plan.source_version,
    }


def plan_from_json(data: dict[str, Any]) -> plans.Plan:
    return plans.Plan(
        data["action"],
        dict(data["before"]),
        [plans.AliasMove(a, f, t) for a, f, t in data["moves"]],
        data.get("source_version"),
        [(str(v), str(k), None if x is None else str(x)) for v, k, x in data.get("tags", [])],
    )


def intent_open(
    *, model_name: str, plan: plans.Plan, actor: Any, team: str, audit_action: str, reason: str, extra: dict[str, Any]
) -> AliasChangeIntent:
    """Commit the `pending` audit event with the planned moves before MLflow is touched."""
    user = actor if actor is not None and not isinstance(actor, str) else None
    with transaction.atomic():
        event = audit_record(
            actor=actor,
            action=audit_action,
            target_kind="model",
            target_id=model_name,
            team=team,
            before={"aliases": plan.before},
            after={"planned": step_labels(plan), **extra},
            reason=reason,
            outcome="pending",
        )
        return AliasChangeIntent.objects.create(
            model_name=model_name,
            audit_action=audit_action,
            audit_event_id=event.id,
            plan=plan_as_json(plan),
            actor=user,
            actor_name=actor_label(actor)[:150],
            team=team,
            reason=reason,
        )


def moves_json(moves: list[plans.AliasMove]) -> list[dict[str, str | None]]:
    """Alias moves as audit data: {alias, from_version, to_version}."""
    return [{"alias": m.alias, "from_version": m.from_version, "to_version": m.to_version} for m in moves]


def _record_moves(
    intent: AliasChangeIntent,
    plan: plans.Plan,
    labels: list[str],
    outcome: str,
    gate: Any,
    known: dict[str, str] | None = None,
) -> None:
    """Alias-history rows for the moves in `labels`, and the last known state moved accordingly. `known`: that
    state as the caller left it under the model's lock (not read again); None: read here."""
    now = timezone.now()
    if known is None:
        state = AliasState.objects.filter(model_name=intent.model_name).first()
        known = plans.normalise(state.aliases or {}) if state else dict(plan.before)
    known = dict(known)
    moved = [move for move in plan.moves if move.describe() in labels]
    AliasEvent.objects.bulk_create(
        AliasEvent(
            model_name=intent.model_name,
            alias=move.alias,
            from_version=move.from_version or "",
            to_version=move.to_version or "",
            action=plan.action,
            actor=intent.actor,
            actor_name=intent.actor_name,
            occurred_at=now,
            reason=intent.reason,
            gate=gate,
            outcome=outcome,
        )
        for move in moved
    )
    for move in moved:
        if move.to_version is None:
            known.pop(move.alias, None)
        else:
            known[move.alias] = move.to_version
    if not AliasState.objects.filter(model_name=intent.model_name).update(aliases=known, updated_at=now):
        AliasState.objects.create(model_name=intent.model_name, aliases=known, updated_at=now)


def _audit_outcome(
    intent: AliasChangeIntent,
    plan: plans.Plan,
    applied: list[str],
    missing: list[str],
    outcome: str,
    *,
    after: dict[str, Any],
    reason: str,
) -> None:
    """The outcome event of an intent: same action and actor, linked by `intent_event`. Its `moves`
    (from_version/to_version) put it in the audit history of every version an applied move touched:
    the rolled-back version as well as the one promoted back."""
    moves = moves_json([m for m in plan.moves if m.describe() in applied])
    audit_record(
        actor=intent.actor or intent.actor_name,
        action=intent.audit_action,
        target_kind="model",
        target_id=intent.model_name,
        team=intent.team,
        before={"aliases": plan.before},
        after={
            **after,
            "moves": moves,
            "applied": applied,
            "not_applied": missing,
            "intent_event": intent.audit_event_id,
        },
        reason=reason,
        outcome=outcome,
    )


def outcome_record(
    *,
    intent: AliasChangeIntent,
    plan: plans.Plan,
    observed: Observed | None,
    error: str,
    lost: bool,
    extra: dict[str, Any],
    known: dict[str, str],
) -> tuple[str, list[str], list[str]]:
    """Record the outcome read back from MLflow; returns (outcome, applied, not applied). `known`: the known
    alias state (AliasState) as the caller recorded it under the model's lock (recording.record_external
    made it the live aliases the plan starts from); the applied moves are recorded on top of it."""
    applied: list[str]
    if observed is None:
        outcome, applied, missing = "unknown", [], step_labels(plan)
    else:
        applied, missing = compare(plan, observed)
        outcome = outcome_of(applied, missing)
    with transaction.atomic():
        if observed is not None:
            _index_observed(intent.model_name, plan, observed)
            _record_moves(intent, plan, applied, outcome, extra.get("gate"), known)
            intent.recorded_applied = applied
            intent.status = AliasChangeIntent.WATCH if lost and missing else AliasChangeIntent.CLOSED
            intent.watch_until = timezone.now() + timedelta(seconds=WATCH_SECONDS) if lost else None
            intent.save(update_fields=["recorded_applied", "status", "watch_until"])
        after = {"aliases": observed.aliases if observed else None, "error": error or None, **extra}
        _audit_outcome(intent, plan, applied, missing, outcome, after=after, reason=intent.reason)
    return outcome, applied, missing


def _index_observed(model_name: str, plan: plans.Plan, observed: Observed) -> None:
    """What MLflow showed (read back) or confirmed (every write answered) goes to the registry index at once."""
    index_store.aliases_record(model_name, observed.aliases)
    if observed.read_back:
        for version, tags in observed.tags.items():
            index_store.version_tags_record(model_name, version, dict(tags), replace=True)
        return
    for version, key, value in plan.tags:
        index_store.version_tags_record(model_name, version, {key: value})


def _resolve_one(intent: AliasChangeIntent, live: dict[str, str]) -> None:
    plan = plan_from_json(intent.plan)
    observed = read_back(intent.model_name, plan) if plan.tags else Observed(live)
    if observed is None:
        return  # still unreadable: the next reconciliation tries again
    observed.aliases = live
    applied, missing = compare(plan, observed)
    new = [label for label in applied if label not in intent.recorded_applied]
    expired = intent.watch_until is not None and intent.watch_until < timezone.now()
    if intent.status == AliasChangeIntent.WATCH and not new:
        if expired or not missing:
            AliasChangeIntent.objects.filter(pk=intent.pk).update(status=AliasChangeIntent.CLOSED)
        return
    outcome = outcome_of(applied, missing)
    late = intent.status == AliasChangeIntent.WATCH
    was = outcome_of(intent.recorded_applied, ["?"]) if late else "unknown"
    with transaction.atomic():
        _record_moves(intent, plan, new, outcome, None)
        _audit_outcome(
            intent,
            plan,
            applied,
            missing,
            outcome,
            after={"aliases": live, "resolved_by": SYSTEM_RECONCILER},
            reason=(
                (
                    "Applied late by MLflow (a write whose answer was lost); "
                    if late
                    else "Outcome read back from MLflow; "
                )
                + f"recorded by reconciliation for the change requested by {intent.actor_name}."
            ),
        )
        intent.recorded_applied = applied
        intent.status = AliasChangeIntent.WATCH if late and missing and not expired else AliasChangeIntent.CLOSED
        intent.save(update_fields=["recorded_applied", "status"])
        notification_events.alias_outcome_resolved(
            intent, action=plan.action, was=was, outcome=outcome, aliases=live, applied=applied, missing=missing
        )


def intents_resolve(model_name: str, live: dict[str, str]) -> int:
    """Resolve the model's open and watched intents against its live aliases (call under the model's lock,
    before looking for external changes). Returns how many intents were looked at."""
    intents = list(
        AliasChangeIntent.objects.filter(model_name=model_name).exclude(status=AliasChangeIntent.CLOSED).order_by("id")
    )
    for intent in intents:
        _resolve_one(intent, live)
    return len(intents)


def models_with_open_intents() -> list[str]:
    return list(
        AliasChangeIntent.objects.exclude(status=AliasChangeIntent.CLOSED)
        .order_by()
        .values_list("model_name", flat=True)
        .distinct()
    )


BASELINE_REASON = (
    "Aliases as found when mlopsadmin first read this model (install or first sync); moves made before "
    "are not known to mlopsadmin."
)


def record_baseline(model_name: str, live: dict[str, str], model_created: int | None = None) -> bool:
    """The first known alias state of a model (`model_created`: MLflow's creation time of the registered
    model, ms), recorded AS the baseline in the alias history (one row per alias, source 'baseline'), never
    silently. An observation, not a change: no audit event. False when the model already had a known state."""
    now = timezone.now()
    with transaction.atomic():
        state, created = AliasState.objects.get_or_create(
            model_name=model_name, defaults={"aliases": live, "updated_at": now, "model_created": model_created}
        )
        if not created:
            return False
        for alias, version in sorted(live.items()):
            AliasEvent.objects.create(
                model_name=model_name,
                alias=alias,
                from_version="",
                to_version=version,
                action="baseline",
                actor_name="baseline (first sync)",
                occurred_at=now,
                source=AliasEvent.SOURCE_BASELINE,
                reason=BASELINE_REASON,
            )
    return True


def created_while_watched(model_created: int | None) -> bool:
    """Did MLflow create the model (`model_created`: its creation_timestamp, ms) after mlopsadmin began
    watching aliases (AliasWatch)? Then it had no aliases before: none of its aliases is a baseline."""
    watch = AliasWatch.objects.order_by("started_at").first()
    return watch is not None and model_created is not None and model_created > watch.started_at.timestamp() * 1000


def watch_start() -> None:
    """Note when the first reconcile sweep over every model began (once; see AliasWatch)."""
    if not AliasWatch.objects.exists():
        AliasWatch.objects.create(started_at=timezone.now())


def _first_sight_baseline(
    live: dict[str, str], hint: tuple[str, str | None] | None, model_created: int | None = None
) -> dict[str, str]:
    """A model seen for the first time: MLflow's aliases now with the change a webhook reported undone.
    A set alias is taken to have been unset before; a deleted alias's version is not known ("?"). A model
    created after mlopsadmin began watching starts from no aliases: every alias it has was set outside."""
    if created_while_watched(model_created):
        return {}
    if hint is None or live.get(hint[0]) != hint[1]:
        return live  # no hint, or MLflow moved on since the delivery: the baseline only
    alias, version = hint
    before = {a: v for a, v in live.items() if a != alias}
    if version is None:
        before[alias] = "?"
    return before


def record_external(
    model_name: str,
    live: dict[str, str],
    hint: tuple[str, str | None] | None = None,
    model_created: int | None = None,
    *,
    known_state: tuple[AliasState | None] | None = None,
) -> int:
    """Compare live aliases with the last known state; record differences as external changes. A model
    seen for the first time (or re-created: identity.model_recreated dropped its state) gets its baseline
    from MLflow now; when a webhook said what changed (`hint`: alias and new version, None when deleted),
    that change is recorded too (issue 21). The live aliases also go to the registry index when they differ
    from the last known state (mlopsadmin's own changes put them there already). `known_state`: (the
    AliasState row, None when there is none) when the caller read it under the model's lock and nothing
    changed it since (identity.model_identity); read here otherwise."""
    state = AliasState.objects.filter(model_name=model_name).first() if known_state is None else known_state[0]
    if state is None:
        record_baseline(model_name, _first_sight_baseline(live, hint, model_created), model_created)
        state = AliasState.objects.get(model_name=model_name)
        index_store.aliases_record(model_name, live)
    known = plans.normalise(state.aliases or {})
    if known == live:
        return 0
    index_store.aliases_record(model_name, live)
    now = timezone.now()
    changed = sorted(a for a in set(known) | set(live) if known.get(a) != live.get(a))
    with transaction.atomic():
        for alias in changed:
            AliasEvent.objects.create(
                model_name=model_name,
                alias=alias,
                from_version=known.get(alias, ""),
                to_version=live.get(alias, ""),
                action="external",
                actor_name="external (directly in MLflow)",
                occurred_at=now,
                source=AliasEvent.SOURCE_EXTERNAL,
                reason="Detected by reconciliation: changed outside mlopsadmin.",
            )
        state.aliases, state.updated_at = live, now
        state.save(update_fields=["aliases", "updated_at"])
        from mlopsadmin.core.selectors import team_for_model

        team = team_for_model(model_name)
        audit_record(
            actor=SYSTEM_RECONCILER,
            action="model.alias_external_change",
            target_kind="model",
            target_id=model_name,
            team=team.name if team else "",
            before={"aliases": known},
            after={
                "aliases": live,
                "changed": changed,
                "moves": moves_json([plans.AliasMove(a, known.get(a), live.get(a)) for a in changed]),
            },
            reason="Alias change made outside mlopsadmin (directly in MLflow).",
        )
        notification_events.alias_external(model_name, before=known, after=live)
    return len(changed)
