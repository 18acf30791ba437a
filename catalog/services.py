"""Writes of the catalog: re-evaluate the local index against the convention (the sync is in sync.py),
and the fixes (rename, bulk tag, create) and convention edits. Each user action writes one audit event."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from catalog import naming
from catalog.deleted_names import refuse_taken_name
from catalog.models import CatalogExperiment, CatalogIndexState, CatalogTagCount, NamingConvention
from catalog.naming import TAG_KEY_RE
from catalog.selectors import convention_for, convention_get
from mlopsadmin import policy
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from mlopsadmin.core.formatting import ms_datetime
from mlopsadmin.core.models import Team
from mlopsadmin.core.selectors import team_for_experiment, team_for_tag
from mlopsadmin.lib import mlflow_client as mlf

logger = logging.getLogger(__name__)

MAX_BULK_RUNS = 1000


def _ms_to_dt(ms: int | None) -> datetime | None:
    return ms_datetime(ms)


# --- Evaluation (no MLflow) ----------------------------------------------------------------------
def _evaluate_row(
    row: CatalogExperiment,
    convention: naming.Convention,
    teams: dict[str, Team],
    required: list[str],
    present: dict[str, int],
    taken: set[str],
) -> None:
    # The experiment's own `team` tag, else the team most of its runs name: an experiment without runs
    # but tagged team=… still gets that team.
    known = list(teams.values())
    tagged = team_for_tag(row.team_tag, known) or team_for_tag(row.dominant_team_tag, known)
    hint = tagged.name if tagged else ""
    report = naming.lint_name(row.name, convention, team_hint=hint or None, taken=taken)
    owner = team_for_experiment(row.name, list(teams.values()), team_tag=hint)
    row.team = owner
    row.team_key = owner.name if owner else ""
    row.project = report.project
    row.experiment_type = report.experiment_type
    row.violations = [v.as_dict() for v in report.violations]
    row.violation_kinds = f" {' '.join(report.kinds)} " if report.kinds else ""
    row.name_compliant = report.compliant
    row.suggested_name = report.suggested_name or ""
    missing = {tag: max(0, row.run_count - present.get(tag, 0)) for tag in required}
    row.missing_tag_counts = missing
    gaps = [tag for tag, count in missing.items() if count]
    row.missing_tags = f" {' '.join(gaps)} " if gaps else ""
    row.runs_missing_any = max(missing.values(), default=0)
    row.tags_compliant = not gaps
    _fit_columns(row)


def _fit_columns(row: CatalogExperiment) -> None:
    """Clip the text evaluated from a name (project, type, suggestion) to its column: MLflow allows names of
    256 characters (longer on a SQLite store), so one segment can be longer than the index keeps, and one such
    experiment must not stop the sync of every other (break-test of issue 19)."""
    for name in EVALUATED_FIELDS:
        limit = getattr(CatalogExperiment._meta.get_field(name), "max_length", None)
        value = getattr(row, name)
        if limit and isinstance(value, str) and len(value) > limit:
            setattr(row, name, value[:limit])


EVALUATED_FIELDS = [
    "team",
    "team_key",
    "project",
    "experiment_type",
    "violations",
    "violation_kinds",
    "name_compliant",
    "suggested_name",
    "missing_tag_counts",
    "missing_tags",
    "runs_missing_any",
    "tags_compliant",
]


def catalog_evaluate(*, experiment_ids: Iterable[str] | None = None) -> int:
    """Re-evaluate naming and tag compliance of the index (all rows, or these) from local data only."""
    row_conv = convention_get()
    teams = {t.name: t for t in Team.objects.all()}
    convention = convention_for(row_conv, list(teams.values()))
    required = [str(t) for t in row_conv.required_tags or []]
    taken = set(CatalogExperiment.objects.values_list("name", flat=True))
    qs = CatalogExperiment.objects.all()
    counts = CatalogTagCount.objects.filter(tag__in=required)
    if experiment_ids is not None:
        ids = list(experiment_ids)
        qs = qs.filter(experiment_id__in=ids)
        counts = counts.filter(experiment__experiment_id__in=ids)
    present: dict[int, dict[str, int]] = {}
    for experiment_pk, tag, value in counts.values_list("experiment_id", "tag", "present"):
        present.setdefault(experiment_pk, {})[tag] = value
    changed: list[CatalogExperiment] = []
    for row in qs.iterator(chunk_size=2000):
        before = [getattr(row, f if f != "team" else "team_id") for f in EVALUATED_FIELDS]
        _evaluate_row(row, convention, teams, required, present.get(row.pk, {}), taken)
        if before != [getattr(row, f if f != "team" else "team_id") for f in EVALUATED_FIELDS]:
            changed.append(row)
    with transaction.atomic():  # plain per-row UPDATEs of changed rows: far cheaper than bulk_update's CASEs
        for row in changed:
            CatalogExperiment.objects.filter(pk=row.pk).update(**{f: getattr(row, f) for f in EVALUATED_FIELDS})
    index_changed()
    return len(changed)


def index_changed() -> None:
    """Invalidate the cached summaries (team compliance, filter choices, home tile): bump the index version
    kept in the database (`catalog.selectors.index_version`)."""
    if not CatalogIndexState.objects.filter(pk=1).update(version=F("version") + 1):
        CatalogIndexState.objects.get_or_create(pk=1, defaults={"version": 2})


# --- Run scans (the sync and the fixes) -----------------------------------------------------------
@dataclass
class ScanResult:
    experiment_id: str
    run_count: int = 0
    last_activity_ms: int | None = None
    tag_present: Counter[str] = field(default_factory=Counter)
    team_tags: Counter[str] = field(default_factory=Counter)


def experiment_scan_runs(experiment_id: str) -> ScanResult:
    """Stream one experiment's runs (page by page) into counts: runs, tag presence, activity, team tag."""
    result = ScanResult(experiment_id)
    for run in mlf.iter_runs([experiment_id], page_size=settings.CATALOG_SYNC_PAGE_SIZE):
        result.run_count += 1
        activity = max(run.start_time or 0, run.end_time or 0) or None
        if activity and (result.last_activity_ms is None or activity > result.last_activity_ms):
            result.last_activity_ms = activity
        result.tag_present.update(k for k, v in run.tags.items() if v and not k.startswith("mlflow."))
        if run.tags.get("team"):
            result.team_tags[run.tags["team"]] += 1
    return result


def store_scan(scan: ScanResult) -> None:
    """Write one experiment's scan into the index (run count, activity, team tag, tag presence)."""
    row = CatalogExperiment.objects.filter(experiment_id=scan.experiment_id).first()
    if row is None:
        return
    with transaction.atomic():
        row.run_count = scan.run_count
        row.last_activity = _ms_to_dt(scan.last_activity_ms)
        row.dominant_team_tag = scan.team_tags.most_common(1)[0][0][:64] if scan.team_tags else ""
        row.runs_scanned_at = timezone.now()
        row.save(update_fields=["run_count", "last_activity", "dominant_team_tag", "runs_scanned_at"])
        CatalogTagCount.objects.filter(experiment=row).delete()
        CatalogTagCount.objects.bulk_create(
            [CatalogTagCount(experiment=row, tag=tag[:250], present=count) for tag, count in scan.tag_present.items()]
        )


# --- Fixes ---------------------------------------------------------------------------------------
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
    try:
        mlf.rename_experiment(experiment_id, new_name)
    except mlf.MlflowConflict as exc:
        refuse_taken_name(new_name)
        raise Conflict(f"The name '{new_name}' is already taken; nothing was changed.") from exc
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
            team=(row.team.name if row.team else report.team or ""),
            before={"name": live.name},
            after={"name": new_name},
            reason=reason,
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
        except mlf.MlflowError as exc:
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
    try:
        experiment_id = mlf.create_experiment(name)
    except mlf.MlflowConflict as exc:
        refuse_taken_name(name)
        raise Conflict(f"An experiment named '{name}' already exists.") from exc
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
            reason=reason,
        )
    catalog_evaluate(experiment_ids=[experiment_id])
    row.refresh_from_db()
    return row


def convention_update(
    *, actor: Any, segment_pattern: str, reserved_words: list[str], required_tags: list[str], reason: str = ""
) -> NamingConvention:
    """Change the convention (admins) and re-evaluate the whole catalog from the local index."""
    policy.require(actor, policy.Action.CONVENTION_EDIT)
    segment_pattern = (segment_pattern or "").strip()
    if not naming.pattern_is_valid(segment_pattern) or len(segment_pattern) > 200:
        raise InvalidInput("The segment pattern is not a valid regular expression.")
    reserved = sorted({w.strip().lower() for w in reserved_words if w and w.strip()})
    tags = list(dict.fromkeys(t.strip() for t in required_tags if t and t.strip()))
    bad = [t for t in tags if not TAG_KEY_RE.match(t)]
    if bad:
        raise InvalidInput(f"Invalid tag key(s): {', '.join(bad)}.")
    if any(len(w) > 64 for w in reserved) or len(reserved) > 200 or len(tags) > 50:
        raise InvalidInput("Too many or too long reserved words / tags.")
    row = convention_get()
    before = {
        "segment_pattern": row.segment_pattern,
        "reserved_words": row.reserved_words,
        "required_tags": row.required_tags,
    }
    with transaction.atomic():
        row.segment_pattern, row.reserved_words, row.required_tags = segment_pattern, reserved, tags
        row.updated_at, row.updated_by = timezone.now(), actor
        row.save()
        audit_record(
            actor=actor,
            action="convention.update",
            target_kind="team",
            target_id="naming-convention",
            before=before,
            after={"segment_pattern": segment_pattern, "reserved_words": reserved, "required_tags": tags},
            reason=reason,
        )
    catalog_evaluate()
    return row
