"""Every read this feature makes from OTHER features, in one place.

Each function returns None when the other feature has no result yet or fails; the probes turn None into
status "unknown" with the reason, so a broken neighbour never breaks a checklist page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from catalog import selectors as catalog_selectors
from maintenance import selectors as maintenance_selectors
from maintenance.models import TaskKind
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import selectors as registry_selectors

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _guarded(what: str, read: Callable[[], T | None]) -> T | None:
    try:
        return read()
    except mlf.MlflowError:
        raise  # the probe reports MLflow being down itself
    except Exception as exc:  # another feature's failure makes our item "unknown", not a 500
        logger.warning("checklists: reading %s failed: %s", what, exc)
        return None


@dataclass(frozen=True)
class CleanupResult:
    succeeded: bool
    finished_at: datetime | None
    status: str
    summary: str


def last_cleanup() -> CleanupResult | None:
    """The last successful cleanup execution."""
    run = _guarded("last cleanup", lambda: maintenance_selectors.last_task_run(kind=TaskKind.CLEANUP_EXECUTE))
    if run is None:
        return None
    counts = ", ".join(f"{key} {value}" for key, value in (run.counts or {}).items())
    return CleanupResult(succeeded=True, finished_at=run.finished_at, status=run.state, summary=counts[:300])


@dataclass(frozen=True)
class CapacityTotals:
    """Sizes in bytes; None is unknown (never 0). `artifact_measured` is the known part of an incomplete
    artifact sum, `unknown_locations` the experiment locations that could not be measured."""

    artifact_bytes: int | None
    db_bytes: int | None
    measured_at: datetime | None
    artifact_measured: int | None = None
    unknown_locations: int = 0
    stale: bool = False  # older than MAINTENANCE_CAPACITY_STALE_HOURS: no check succeeded since


def capacity_totals() -> CapacityTotals | None:
    totals = _guarded("capacity totals", maintenance_selectors.latest_capacity_totals)
    if totals is None:
        return None
    artifact, database = totals.get("artifact_bytes"), totals.get("database_bytes")
    return CapacityTotals(
        artifact_bytes=int(artifact) if artifact is not None else None,
        db_bytes=int(database) if database is not None else None,
        measured_at=totals.get("measured_at"),
        artifact_measured=totals.get("measured_bytes"),
        unknown_locations=int(totals.get("unknown_locations") or 0),
        stale=bool(totals.get("stale")),
    )


@dataclass(frozen=True)
class NamingSummary:
    total: int
    non_compliant: int
    examples: list[str]


def experiment_naming_summary() -> NamingSummary | None:
    """Over the catalog's synced experiment index."""
    percent = _guarded("experiment naming", catalog_selectors.naming_compliance_percent)
    if percent is None:
        return None
    _, compliant, total = percent
    return NamingSummary(total=total, non_compliant=total - compliant, examples=[])


def model_naming_summary() -> NamingSummary | None:
    """The registry's naming lint over every registered model (live from MLflow)."""
    words = _guarded("model naming words", registry_selectors.naming_words)
    if words is None:
        return None
    bad, total = [], 0
    for model in mlf.iter_registered_models():
        total += 1
        findings = registry_selectors.model_name_findings(model.name, words)
        if findings:
            bad.append(f"{model.name}: {', '.join(f.reason for f in findings[:2])}")
    return NamingSummary(total=total, non_compliant=len(bad), examples=bad[:10])
