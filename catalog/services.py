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
from catalog.models import CatalogExperiment, CatalogIndexState, CatalogTagCount, NamingConvention
from catalog.naming import TAG_KEY_RE
from catalog.selectors import convention_for, convention_get
from mlopsadmin import policy
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.core.formatting import ms_datetime
from mlopsadmin.core.models import Team
from mlopsadmin.core.selectors import team_for_experiment, team_for_tag
from mlopsadmin.lib import mlflow_client as mlf

logger = logging.getLogger(__name__)


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
