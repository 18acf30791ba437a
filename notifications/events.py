"""The governed events that notify people: one function per event, called by the service where it
happens (a one-line hook). Each builds an Event (who, what, a link back) and hands it to
`services.notify`, which never raises: a notification problem never fails the action itself.

Recipients (see services.recipients_for): the owning team's ML leads and the model's watchers for model
events (plus the requester for a decision on their request), operators for operations events, the
NOTIFY_EMAILS list, the team's webhook and the global webhook.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from django.urls import reverse

from mlopsadmin.audit.services import actor_label
from mlopsadmin.core.selectors import team_for_model
from mlopsadmin.lib.redaction import scrub
from notifications.deferred import notify_later
from notifications.selectors import person_email
from notifications.services import Event, notify

CAPACITY_RANK = {"ok": 0, "unknown": 0, "warning": 1, "critical": 2}
ALIAS_EVENTS = {  # action → (event, verb, subject after the model name; {alias} = its version after)
    "challenger": ("model.challenger_set", "set @challenger of", "@challenger → v{challenger}"),
    "promote": ("model.promoted", "promoted", "@champion → v{champion}"),
    "rollback": ("model.rolled_back", "rolled back", "rolled back, @champion → v{champion}"),
    "repair": ("model.repaired", "repaired the aliases of", "aliases repaired"),
}

ACTION_NOUNS = {"challenger": "make-challenger", "promote": "promotion", "rollback": "rollback", "repair": "repair"}


def _describe(aliases: dict[str, str]) -> str:
    return ", ".join(f"@{a} v{v}" for a, v in sorted(aliases.items())) or "no aliases"


def _approval(req: Any, *, kind: str, subject: str, line: str, actor: Any, people: list[str] | None = None) -> None:
    """An approval event, told to the team that decides it: for an approval to copy into an environment
    (model '<env>:<model there>', issue 22) the team of the base model, linked to the inbox."""
    from registry_ui.approvals.selectors import approval_page, approval_subject_model
    from registry_ui.approvals.services import approval_team

    comment = req.decision_comment if kind != "approval.requested" else req.comment
    notify(
        Event(
            kind=kind,
            key=f"{kind}:{req.pk}",
            subject=subject,
            lines=[line] + ([f"Comment: {comment}"] if comment else []),
            link=approval_page(req),
            team=approval_team(req.model_name),
            model_name=approval_subject_model(req),
            people=people or [],
            actor=actor,
        )
    )


def approval_requested(req: Any, *, actor: Any) -> None:
    """An approval request was created (registry_ui.services.approval_request_create)."""
    _approval(
        req,
        kind="approval.requested",
        subject=f"Approval requested: {req.target_id}",
        line=f"{actor_label(actor)} asks for approval of {req.target_id}.",
        actor=actor,
    )


def approval_decided(req: Any, *, actor: Any) -> None:
    """A request was approved or rejected; the requester is told too."""
    _approval(
        req,
        kind="approval.decided",
        subject=f"Approval {req.state}: {req.target_id}",
        line=f"{actor_label(actor)} {req.state} {req.target_id} (requested by {req.requester.get_username()}).",
        actor=actor,
        people=[person_email(req.requester)],
    )


def approval_withdrawn(req: Any, *, actor: Any) -> None:
    """A pending request was withdrawn (by the requester or an admin); the requester is told when an
    admin withdrew it."""
    _approval(
        req,
        kind="approval.withdrawn",
        subject=f"Approval request withdrawn: {req.target_id}",
        line=f"{actor_label(actor)} withdrew the approval request #{req.pk} for {req.target_id}.",
        actor=actor,
        people=[person_email(req.requester)],
    )


def alias_changed(result: Any, *, actor: Any, reason: str, team: Any = None) -> None:
    """Make challenger / promote / roll back / repair finished (registry_ui.promotion.changes.change_run),
    recorded by a worker after the change's outcome is committed (notifications.deferred.notify_later);
    a partial change is a "repair needed" event instead; nothing for a change that failed or whose
    outcome is unknown (reconciliation records what MLflow shows). `team`: the owning team when the caller
    has it (else it is looked up)."""
    if result.outcome not in ("ok", "partial"):
        return
    kind, verb, headline = ALIAS_EVENTS.get(result.action, (f"model.{result.action}", result.action, result.action))
    subject = f"{result.model_name}: " + headline.format_map(defaultdict(lambda: "–", result.after))
    lines = [
        f"{actor_label(actor)} {verb} {result.model_name}: {_describe(result.before)} → {_describe(result.after)}."
    ]
    if result.outcome == "partial":
        kind, subject = "model.repair_needed", f"Repair needed: {result.model_name}"
        lines = [
            f"The {result.action} by {actor_label(actor)} failed part-way: {result.error}.",
            f"Applied: {'; '.join(result.applied) or 'nothing'}. NOT applied: {'; '.join(result.not_applied)}.",
            "Use Repair on the aliases page.",
        ]
    if result.overridden:
        lines.append("The validation gate was OVERRIDDEN by an admin.")
    if reason:
        lines.append(f"Reason: {reason}")
    _model_event(kind, result.model_name, subject, lines, actor=actor, team=team, later=True)


def alias_outcome_resolved(
    intent: Any, *, action: str, was: str, outcome: str, aliases: dict[str, str], applied: list[str], missing: list[str]
) -> None:
    """Reconciliation read back what an alias change did after all (registry_ui.promotion.recording): its
    outcome was unknown when it ran (`was`), or a write whose answer was lost was applied late by MLflow.
    The final outcome is told like the change itself (all applied: the action's own event; part of it:
    "repair needed"; nothing: "not applied"), to the team, the watchers and the person who asked (it is
    news to them too: they were told "unknown" or "failed"). Once per intent and applied count."""
    model_name = intent.model_name
    kind, _, headline = ALIAS_EVENTS.get(action, (f"model.{action}", action, action))
    subject = f"{model_name}: " + headline.format_map(defaultdict(lambda: "–", aliases))
    if outcome == "partial":
        kind, subject = "model.repair_needed", f"Repair needed: {model_name}"
    elif outcome == "failed":
        kind, subject = "model.change_failed", f"{model_name}: the {ACTION_NOUNS.get(action, action)} was not applied"
    when = "its outcome was unknown when it ran" if was == "unknown" else f"it was recorded as {was} when it ran"
    noun = ACTION_NOUNS.get(action, action)
    lines = [
        f"The {noun} of {model_name} requested by {intent.actor_name}: {when}.",
        f"Read back from MLflow later by reconciliation: applied: {'; '.join(applied) or 'nothing'}"
        + (f"; NOT applied: {'; '.join(missing)}." if missing else "."),
        f"Aliases now: {_describe(aliases)}.",
    ]
    if outcome == "partial":
        lines.append("Use Repair on the aliases page.")
    if intent.reason:
        lines.append(f"Reason: {intent.reason}")
    asker = person_email(intent.actor) if intent.actor_id else ""
    key = f"model.outcome_resolved:{intent.pk}:{len(applied)}"
    _model_event(kind, model_name, subject, lines, key=key, people=[asker] if asker else [])


def alias_external(model_name: str, *, before: dict[str, str], after: dict[str, str]) -> None:
    """Aliases changed outside mlopsadmin (directly in MLflow), found by reconciliation or the webhook."""
    changed = sorted(a for a in set(before) | set(after) if before.get(a) != after.get(a))
    moves = [f"@{a}: {before.get(a) or '–'} → {after.get(a) or '–'}" for a in changed]
    lines = [f"Aliases of {model_name} changed outside mlopsadmin (directly in MLflow): {'; '.join(moves)}."]
    lines.append("No gate, lock or approval applied to this change.")
    _model_event("model.alias_external", model_name, f"{model_name}: aliases changed outside mlopsadmin", lines)


def environment_copied(
    *,
    actor: Any,
    team: Any,
    target_id: str,
    source: str,
    target_env: str,
    target_model: str,
    target_version: str = "",
    error: str = "",
    left_in_target: list[str] | None = None,
) -> None:
    """A version was copied into the next environment (registry_ui.environments.services.promote_to_next,
    issue 22), or the copy failed part-way (`error`; `left_in_target`: what it could not remove). Told like a
    promotion: the owning team's leads and the target model's watchers, never the actor; linked to the
    copy's audit history. `source`: "dev:dev.ranker v3"."""
    label = actor_label(actor)
    if error:
        kind, subject = "model.environment_copy_failed", f"{target_model}: the copy into {target_env} failed"
        lines = [f"The copy of {source} into {target_env} by {label} failed part-way: {error}."]
        left = "; ".join(left_in_target or [])
        lines.append(f"Left in {target_env}: {left}. Clean up on the version's page." if left else "Nothing was left.")
    else:
        kind, subject = "model.environment_promoted", f"{target_model}: v{target_version} copied into {target_env}"
        lines = [f"{label} copied {source} into {target_env} as {target_model} v{target_version}."]
    notify(
        Event(
            kind=kind,
            key=f"{kind}:{target_id}:{uuid.uuid4().hex}",
            subject=subject,
            lines=lines,
            link=reverse("audit:history", kwargs={"kind": "model", "target_id": target_id}),
            team=team,
            model_name=target_model,
            actor=actor,
        )
    )


def _model_event(
    kind: str,
    model_name: str,
    subject: str,
    lines: list[str],
    *,
    actor: Any = None,
    key: str = "",
    people: list[str] | None = None,
    team: Any = None,
    later: bool = False,
) -> None:
    """Record a model event's notifications now, or (`later`) in a worker after the transaction commits
    (notifications.deferred: off the request path of an alias change, issue 20)."""
    (notify_later if later else notify)(
        Event(
            kind=kind,
            key=key or f"{kind}:{model_name}:{uuid.uuid4().hex}",
            subject=subject,
            lines=lines,
            link=reverse("promotion:aliases", args=[model_name]),
            team=team if team is not None else team_for_model(model_name),
            model_name=model_name,
            people=people or [],
            actor=actor,
        )
    )


def _operations_event(kind: str, key: str, subject: str, lines: list[str], link: str, *, actor: Any = None) -> None:
    notify(Event(kind=kind, key=key, subject=subject, lines=lines, link=link, audience="operations", actor=actor))


def task_finished(
    run: Any,
    *,
    state: str,
    counts: dict[str, Any] | None = None,
    errors: list[str] | None = None,
    actor: Any = None,
) -> None:
    """A maintenance TaskRun ended (maintenance.task_runs): failed (the handler failed, or the broker refused
    to queue it) or interrupted (its worker was lost, or no worker ever picked it up) → "task failed", once
    per attempt (a resumed run that fails again is told again); a cleanup execution that succeeded →
    "cleanup executed". `actor`: who was told then and there (a start refused with a 503)."""
    link = reverse("maintenance:task", args=[run.pk])
    label = run.get_kind_display()
    if state in ("failed", "interrupted"):
        errors = [scrub(e) for e in (errors or [])[:3]]
        headline = "Task failed" if state == "failed" else "Task interrupted"
        lines = [f"The {label} task #{run.pk} {state}."] + [f"Error: {e}" for e in errors]
        if state == "interrupted":
            lines.append("It resumes if a worker receives its message again; otherwise start it again.")
        key = f"task.failed:{run.pk}:{run.attempts}"
        _operations_event("task.failed", key, f"{headline}: {label} #{run.pk}", lines, link, actor=actor)
    elif state == "succeeded" and run.kind == "cleanup_execute":
        done = ", ".join(f"{n} {k}" for k, n in (counts or {}).items() if isinstance(n, int))
        lines = [f"Cleanup plan #{run.parameters.get('plan_id')} was executed (task #{run.pk}): {done or 'done'}."]
        _operations_event("cleanup.executed", f"cleanup.executed:{run.pk}", f"Cleanup executed: {done}", lines, link)


def capacity_alert(run: Any, *, level: str, text: str, previous_level: str) -> None:
    """A capacity check found a warning/critical level; only a crossing (higher than the previous
    check's level) notifies, not every check that stays above a threshold."""
    if CAPACITY_RANK.get(level, 0) <= CAPACITY_RANK.get(previous_level, 0):
        return
    _operations_event(
        f"capacity.{level}",
        f"capacity.{level}:{run.pk}",
        f"Capacity {level}: {text[:120]}",
        [f"The capacity check #{run.pk} crossed into {level} (previous check: {previous_level}): {text}."],
        reverse("maintenance:task", args=[run.pk]),
    )


def checklists_overdue(instances: list[Any]) -> None:
    """Open checklists past their period end; each notifies once (the key is the instance), however
    often the daily schedule finds it still overdue."""
    for instance in instances:
        _checklist_overdue(instance)


def _checklist_overdue(instance: Any) -> None:
    _operations_event(
        "checklist.overdue",
        f"checklist.overdue:{instance.pk}",
        f"Checklist overdue: {instance}",
        [f"The checklist {instance} was due {instance.period_end:%Y-%m-%d} and is not signed off."],
        reverse("checklists:instance", args=[instance.pk]),
    )
