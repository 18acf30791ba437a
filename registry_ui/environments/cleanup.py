"""What a failed copy left in the target environment, and cleaning it up later (issue 22: "a failure
part-way leaves no half-registered version, or marks it and offers cleanup").

A copy that fails removes what it created at once (copy.clean_target). When the target could not be read
or written then (it stopped answering), its audit event `environment.promote` (outcome failed) keeps the
copy's id, the run left behind and whether the copy created the model. `leftovers` reads the target
again for versions tagged with those ids; the confirm page shows them with a "Clean up" button, and
`clean_failed_copies` removes them (one audit event `environment.cleanup`), with the model when the copy
created it and it is empty (a copy killed between creating the model and registering the version; the model
carries the copy's id) and the source version's "copied to" tag when it names a version no longer there.
A version left by a failed copy never counts as "already copied" (copy.copies_in_target).

A copy killed mid-way (a web worker's timeout, a Celery worker killed: queued.py) records no outcome.
Before its first write to the target a copy commits `environment.copy` (outcome pending, with its copy
id): one with no `environment.promote` event of that id after `killed_after_seconds()` counts as a
failed copy here too (one run by a worker task only once that task is no longer queued or running: the
heartbeat sweep marks a lost worker's task interrupted), and what it left (runs and versions tagged
with its id) is found and cleaned up the same way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from maintenance.models import ACTIVE_STATES, TaskRun
from maintenance.task_runs import task_runs_sweep_stale
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib.mlflow_errors import MlflowError
from mlopsadmin.policy import Action, require_actor
from registry_ui import validation
from registry_ui.environments.config import Environment, environment, next_environment
from registry_ui.environments.copy import COPY_ID_TAG, PROMOTION_EXPERIMENT, TO_TAG_PREFIX, clean_target, copy_lock
from registry_ui.promotion.changes import model_team

PROMOTE_ACTION = "environment.promote"
CLEANUP_ACTION = "environment.cleanup"
STARTED_ACTION = "environment.copy"  # services.promote_to_next, before any write to the target
RECENT_FAILURES = 20  # failed copies of one version looked at (newest first)


def killed_after_seconds() -> int:
    """Seconds after which a started copy with no outcome is taken as killed: longer than a web worker
    lives (WEB_TIMEOUT_SECONDS) and than the copy lock's TTL (PROMOTION_LOCK_TTL_SECONDS), so the lock of
    a killed copy has expired by then; a copy still running holds its lock and clean-up answers 409."""
    ttl = int(settings.PROMOTION_LOCK_TTL_SECONDS)
    return max(int(settings.WEB_TIMEOUT_SECONDS), ttl) + ttl


def _killed(target_id: str, version: str) -> list[dict[str, Any]]:
    """Started copies of `version` (their `environment.copy` events) older than killed_after_seconds()
    with no outcome event carrying their copy id."""
    cutoff = timezone.now() - timedelta(seconds=killed_after_seconds())
    started = AuditEvent.objects.filter(
        action=STARTED_ACTION, outcome="pending", target_id=target_id, occurred_at__lt=cutoff
    ).order_by("-id")[:RECENT_FAILURES]
    found = []
    for event in started:
        after, before = event.after or {}, event.before or {}
        copy_id = str(after.get("copy_id") or "")
        if not copy_id or str(before.get("version")) != str(version):
            continue
        if not AuditEvent.objects.filter(action=PROMOTE_ACTION, target_id=target_id, after__copy_id=copy_id).exists():
            found.append({**after, "killed": True, "event_id": event.id, "at": event.occurred_at})
    running = _tasks_running({int(f["task_run"]) for f in found if f.get("task_run")})
    return [f for f in found if not f.get("task_run") or int(f["task_run"]) not in running]


def _tasks_running(task_run_ids: set[int]) -> set[int]:
    """Which of the worker tasks that ran copies (queued.py) are still queued or running, after one sweep
    of lost workers (a killed worker stops beating: task_runs_sweep_stale marks its task interrupted)."""
    if not task_run_ids:
        return set()
    task_runs_sweep_stale()
    return set(TaskRun.objects.filter(pk__in=task_run_ids, state__in=ACTIVE_STATES).values_list("pk", flat=True))


def _failed(source: Environment, target: Environment, base: str, version: str) -> list[dict[str, Any]]:
    target_id = f"{base}/{source.name}→{target.name}"
    events = AuditEvent.objects.filter(action=PROMOTE_ACTION, outcome="failed", target_id=target_id).order_by("-id")[
        :RECENT_FAILURES
    ]
    found = []
    for event in events:
        after, before = event.after or {}, event.before or {}
        if after.get("copy_id") and str(before.get("version")) == str(version):
            found.append({**after, "event_id": event.id, "at": event.occurred_at})
    return found + _killed(target_id, version)


def failed_copy_ids(source: Environment, target: Environment, base: str, version: str) -> frozenset[str]:
    """Ids of the copies of `version` into `target` that failed or were killed (from their audit events)."""
    return frozenset(str(f["copy_id"]) for f in _failed(source, target, base, version))


def leftovers(source: Environment, target: Environment, base: str, version: str) -> list[dict[str, Any]]:
    """[{copy_id, event_id, at, versions, run}] of failed copies whose versions the target still holds
    (read now), or whose run was left behind (a killed copy's run: the active one tagged with its id).
    Raises MlflowError when the target cannot be read."""
    dst, name = target.handle(), target.model_name(base)
    left = []
    for failure in _failed(source, target, base, version):
        versions = dst.versions_tagged(name, COPY_ID_TAG, str(failure["copy_id"]))
        run = str(failure.get("run_left") or "")
        run = run if run and dst.run_active(run) else ""
        if failure.get("killed"):
            run = next(iter(dst.runs_tagged(PROMOTION_EXPERIMENT, COPY_ID_TAG, str(failure["copy_id"]))), "")
        created = _created_model(dst, name, str(failure["copy_id"]), bool(failure.get("model_created")))
        empty = created and not versions and dst.model_tags(name) is not None and dst.latest_version(name) is None
        if versions or run or empty:
            left.append({**failure, "versions": versions, "run": run, "model_created": created, "empty_model": empty})
    return left


def _created_model(dst: Any, name: str, copy_id: str, recorded: bool) -> bool:
    """Whether the copy `copy_id` created model `name` in the target: its failure event says so
    (`recorded`), or the model carries the copy's id (a copy killed before any outcome was recorded; the
    tag is set when the copy creates the model, copy.copy_version)."""
    if recorded:
        return True
    tags = dst.model_tags(name)
    return tags is not None and tags.get(COPY_ID_TAG) == copy_id


def _source_tag_fixed(source: Environment, target: Environment, base: str, version: str) -> list[str]:
    """Remove the source version's "copied to <target>" tag when the version it names is no longer in the
    target (a copy killed after tagging the source, then cleaned up). Returns what was removed."""
    src, dst, key = source.handle(), target.handle(), TO_TAG_PREFIX + target.name
    value = src.model_version(source.model_name(base), version)["tags"].get(key, "")
    name, _, number = value.rpartition(" v")
    if not value or (name == target.model_name(base) and number and dst.version_exists(name, number)):
        return []
    src.delete_version_tag(source.model_name(base), version, key)
    return [f"tag {key} = {value!r} on {source.model_name(base)} v{version}"]


def clean_failed_copies(*, actor: Any, source_env: str, model: str, version: str) -> dict[str, list[str]]:
    """Remove what failed copies of `version` of `model` left in the next environment: their versions
    (found by copy id), their runs, and the model when a copy created it and it is empty now. Policy
    ENVIRONMENT_PROMOTE; Conflict while a copy into the model runs; MlflowError when the target cannot be
    read. Returns {removed, left_in_target}; one audit event `environment.cleanup` (outcome partial when
    something is still there)."""
    version = validation.model_version(version)
    source = environment(source_env)
    target = next_environment(source)
    team, team_key = model_team(model)
    require_actor(actor, Action.ENVIRONMENT_PROMOTE, team=team)
    dst, name = target.handle(), target.model_name(model)
    removed: list[str] = []
    left: list[str] = []
    with copy_lock(target, name):
        found = leftovers(source, target, model, version)
        for failure in found:
            gone, still = clean_target(dst, name, str(failure["copy_id"]), failure["versions"], False, failure["run"])
            removed += gone
            left += still
            if failure.get("model_created") and not still and f"model {name}" not in removed:
                try:
                    if dst.latest_version(name) is None:  # only an empty model: another copy may have landed
                        dst.delete_model(name)
                        removed.append(f"model {name}")
                except MlflowError:
                    left.append(f"model {name} (could not be removed)")
        if found:
            try:
                removed += _source_tag_fixed(source, target, model, version)
            except MlflowError:
                left.append(f"tag {TO_TAG_PREFIX}{target.name} on {source.model_name(model)} v{version} (unreadable)")
    audit_record(
        actor=actor,
        action=CLEANUP_ACTION,
        target_kind="model",
        target_id=f"{model}/{source.name}→{target.name}",
        team=team_key,
        before={"environment": target.name, "copies": [str(f["copy_id"]) for f in found], "version": version},
        after={"removed": removed, "left_in_target": left},
        outcome="partial" if left else "ok",
        reason=f"clean-up of failed copies of {source.name} v{version} in {target.name}",
    )
    return {"removed": removed, "left_in_target": left}
