"""The catalog's fixes written to MLflow by ML leads and members (issue 7 pages, issue 14 read-back): rename an
experiment to a compliant name, set one tag on selected runs, create an experiment from the name builder.
Each checks the actor's permission through `mlopsadmin.policy`, re-reads MLflow before writing, reads a lost
answer back (catalog/readback.py) and writes one audit event; the index is updated at once."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from catalog import naming, readback
from catalog.deleted_names import refuse_taken_name
from catalog.models import CatalogExperiment
from catalog.naming import TAG_KEY_RE
from catalog.selectors import convention_for
from catalog.services import catalog_evaluate, experiment_scan_runs, store_scan
from mlopsadmin import policy
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from mlopsadmin.core.models import Team
from mlopsadmin.lib import mlflow_client as mlf

MAX_BULK_RUNS = 1000


def _owning_team(row: CatalogExperiment) -> Team | None:
    return row.team


def _index_row(experiment_id: str) -> CatalogExperiment:
    row = CatalogExperiment.objects.select_related("team").filter(experiment_id=str(experiment_id)).first()
    if row is None:
        raise NotFound(f"Experiment {experiment_id} is not in the catalog (sync the catalog first).")
    return row


def _live_experiment(experiment_id: str) -> mlf.Experiment:
    try:
        live = mlf.get_experiment(experiment_id)
    except mlf.MlflowNotFound as exc:
        raise NotFound(f"Experiment {experiment_id} no longer exists in MLflow; nothing was changed.") from exc
    if live.is_deleted:
        raise Conflict(f"Experiment {experiment_id} ('{live.name}') was deleted in MLflow; nothing was changed.")
    return live


def _require_compliant(name: str, convention: naming.Convention) -> naming.NameReport:
    report = naming.lint_name(name, convention)
    if not report.compliant:
        raise RuleViolation(
            "The new name breaks the naming convention: " + " ".join(v.message for v in report.violations)
        )
    return report


def experiment_rename(
    *, actor: Any, experiment_id: str, new_name: str, expected_name: str = "", reason: str = ""
) -> CatalogExperiment:
    """Rename through MLflow to a compliant name. Refused for non-leads; stale input changes nothing.

    Code that still calls `set_experiment(old name)` will create a NEW experiment under the old name.
    """
    row = _index_row(experiment_id)
    new_name = (new_name or "").strip()
    if not new_name:
        raise InvalidInput("Give the new name.")
    teams = list(Team.objects.all())
    convention = convention_for(teams=teams)
    policy.require(actor, policy.Action.EXPERIMENT_RENAME, team=_owning_team(row))
    report = _require_compliant(new_name, convention)
    target_team = next((t for t in teams if t.name == report.team), None)
    if target_team is not None and target_team != row.team:
        policy.require(actor, policy.Action.EXPERIMENT_RENAME, team=target_team)
    live = _live_experiment(experiment_id)
    if expected_name and live.name != expected_name:
        raise Conflict(
            f"Experiment {experiment_id} is now named '{live.name}', not '{expected_name}' "
            "(renamed meanwhile); nothing was changed."
        )
    if live.name == new_name:
        raise InvalidInput("The experiment already has this name.")
    refuse_taken_name(new_name)
    team_key = row.team.name if row.team else report.team or ""
    note = ""
    try:
        mlf.rename_experiment(experiment_id, new_name)
    except mlf.MlflowConflict as exc:  # taken, or a retry of this rename whose first answer was lost
        if readback.experiment_name(experiment_id) != new_name:
            refuse_taken_name(new_name)
            raise Conflict(f"The name '{new_name}' is already taken; nothing was changed.") from exc
        note = readback.lost_note(exc, "the experiment has the new name (a retry found it renamed)")
    except readback.LOST as exc:
        shown = readback.experiment_name(experiment_id)
        if shown != new_name:
            raise readback.unconfirmed(
                actor=actor,
                action="experiment.rename",
                target_id=experiment_id,
                team=team_key,
                before={"name": live.name},
                after={"name": shown},
                readable=shown is not None,
                exc=exc,
            ) from exc
        note = readback.lost_note(exc, "the experiment has the new name")
    refreshed = mlf.get_experiment(experiment_id)
    with transaction.atomic():
        row.previous_name, row.name = live.name, new_name
        row.last_update_time = refreshed.last_update_time
        row.save(update_fields=["name", "previous_name", "last_update_time"])
        audit_record(
            actor=actor,
            action="experiment.rename",
            target_kind="experiment",
            target_id=experiment_id,
            team=team_key,
            before={"name": live.name},
            after={"name": new_name},
            reason=" | ".join(part for part in (reason, note) if part),
        )
    catalog_evaluate(experiment_ids=[experiment_id])
    row.refresh_from_db()
    return row


@dataclass
class TagResult:
    tagged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        return "ok" if not self.failed else ("partial" if self.tagged else "failed")


def runs_tag_set(
    *, actor: Any, experiment_id: str, run_ids: list[str], key: str, value: str, reason: str = ""
) -> TagResult:
    """Set one tag on selected runs of one experiment. All runs are checked before any is changed."""
    row = _index_row(experiment_id)
    policy.require(actor, policy.Action.EXPERIMENT_TAG_RUNS, team=_owning_team(row))
    key, value = (key or "").strip(), (value or "").strip()
    run_ids = list(dict.fromkeys(r.strip() for r in run_ids if r and r.strip()))
    if not TAG_KEY_RE.match(key) or key.startswith("mlflow."):
        raise InvalidInput("Give a tag key (letters, digits, '_ - . / : space'; not an 'mlflow.' system tag).")
    if not value or len(value) > 5000:
        raise InvalidInput("Give a tag value (1 to 5000 characters).")
    if not run_ids:
        raise InvalidInput("Select at least one run.")
    if len(run_ids) > MAX_BULK_RUNS:
        raise InvalidInput(f"At most {MAX_BULK_RUNS} runs at a time.")
    _live_experiment(experiment_id)
    for run_id in run_ids:
        try:
            run = mlf.get_run(run_id)
        except (mlf.MlflowNotFound, mlf.MlflowInvalid) as exc:
            raise NotFound(f"Run {run_id} no longer exists; nothing was changed.") from exc
        if run.experiment_id != str(experiment_id) or run.lifecycle_stage != "active":
            raise Conflict(f"Run {run_id} is not an active run of experiment {experiment_id}; nothing was changed.")
    result = TagResult()
    for run_id in run_ids:
        try:
            mlf.set_run_tag(run_id, key, value)
            result.tagged.append(run_id)
        except mlf.MlflowError as exc:  # a lost answer may have landed: what MLflow shows decides
            if isinstance(exc, readback.LOST) and readback.run_tag(run_id, key) == value:
                result.tagged.append(run_id)
            else:
                result.failed[run_id] = str(exc)[:300]
    scan = experiment_scan_runs(str(experiment_id))
    with transaction.atomic():
        store_scan(scan)
        audit_record(
            actor=actor,
            action="experiment.tag_runs",
            target_kind="experiment",
            target_id=experiment_id,
            team=row.team.name if row.team else "",
            before=None,
            after={"tag": key, "value": value, "run_ids": result.tagged, "failed": result.failed},
            reason=reason,
            outcome=result.outcome,
        )
    catalog_evaluate(experiment_ids=[str(experiment_id)])
    return result


def experiment_create(
    *, actor: Any, team: str, project: str, experiment_type: str, reason: str = ""
) -> CatalogExperiment:
    """Create an experiment with a compliant name built from team / project / type."""
    team_obj = Team.objects.filter(name=team).first()
    if team_obj is None:
        raise InvalidInput(f"Unknown team '{team}'.")
    policy.require(actor, policy.Action.EXPERIMENT_CREATE, team=team_obj)
    name = naming.build_name(team_obj.experiment_prefix, (project or "").strip(), (experiment_type or "").strip())
    _require_compliant(name, convention_for())
    refuse_taken_name(name)
    sent_ms, note = int(time.time() * 1000), ""
    try:
        experiment_id = mlf.create_experiment(name)
    except (mlf.MlflowConflict, *readback.LOST) as exc:  # a conflict: maybe a retry of this very create
        found = readback.experiment_created_since(name, sent_ms)
        if isinstance(exc, mlf.MlflowConflict) and not found:
            refuse_taken_name(name)
            raise Conflict(f"An experiment named '{name}' already exists.") from exc
        if not found:
            raise readback.unconfirmed(
                actor=actor,
                action="experiment.create",
                target_id=name,
                team=team_obj.name,
                before=None,
                after={"name": name, "created": False if found is False else None},
                readable=found is False,
                exc=exc,
            ) from exc
        experiment_id, note = found.experiment_id, readback.lost_note(exc, "the experiment exists, created now")
    live = mlf.get_experiment(experiment_id)
    with transaction.atomic():
        row, _ = CatalogExperiment.objects.update_or_create(
            experiment_id=experiment_id,
            defaults={
                "name": name,
                "lifecycle_stage": live.lifecycle_stage,
                "last_update_time": live.last_update_time,
                "runs_scanned_at": timezone.now(),
            },
        )
        audit_record(
            actor=actor,
            action="experiment.create",
            target_kind="experiment",
            target_id=experiment_id,
            team=team_obj.name,
            after={"name": name},
            reason=" | ".join(part for part in (reason, note) if part),
        )
    catalog_evaluate(experiment_ids=[experiment_id])
    row.refresh_from_db()
    return row
