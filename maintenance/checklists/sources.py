"""Every read this feature makes from OTHER features, in one place, so the lead can wire them up.

Each function imports its provider lazily and returns None when the provider (or its result) does
not exist yet; the probes turn None into status "unknown" with evidence "no maintenance results yet".
The adapters accept dicts or objects and a few likely attribute names, and normalise them.

Providers:
- maintenance.selectors.last_task_run(kind="cleanup_execute")  -> a TaskRun-like object or None
- maintenance.selectors.latest_capacity_totals()               -> totals (artifact/db bytes) or None
- catalog.selectors.naming_compliance_summary()                 -> experiment naming summary or None
- registry_ui.selectors.model_naming_summary()                  -> model naming summary or None
Fallbacks for what those features offer as merged: catalog.selectors.naming_compliance_percent()
(percent, compliant, total) and registry_ui.selectors.model_name_findings(name, naming_words()).
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)

SUCCESS_STATES = {"succeeded", "success", "ok", "done", "finished", "completed", "complete"}


def _provider(module_name: str, function_name: str) -> Any | None:
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # not merged yet, or broken: the item becomes "unknown"
        logger.info("checklists: %s not available: %s", module_name, exc)
        return None
    return getattr(module, function_name, None)


def _get(value: Any, *names: str) -> Any:
    for name in names:
        if isinstance(value, dict) and name in value:
            return value[name]
        if not isinstance(value, dict) and hasattr(value, name):
            return getattr(value, name)
    return None


def _call(module_name: str, function_name: str, **kwargs: Any) -> Any | None:
    fn = _provider(module_name, function_name)
    if fn is None:
        return None
    try:
        return fn(**kwargs)
    except Exception as exc:  # another feature's failure makes our item "unknown", not a 500
        logger.warning("checklists: %s.%s failed: %s", module_name, function_name, exc)
        return None


@dataclass(frozen=True)
class CleanupResult:
    succeeded: bool
    finished_at: datetime | None
    status: str
    summary: str


def last_cleanup() -> CleanupResult | None:
    run = _call("maintenance.selectors", "last_task_run", kind="cleanup_execute")
    if run is None:
        return None
    status = str(_get(run, "status", "state", "outcome") or "")
    finished = _get(run, "finished_at", "ended_at", "completed_at", "updated_at")
    summary = str(_get(run, "summary", "message", "result_summary") or "")
    return CleanupResult(succeeded=status.lower() in SUCCESS_STATES, finished_at=finished, status=status,
                         summary=summary[:300])


@dataclass(frozen=True)
class CapacityTotals:
    artifact_bytes: int | None
    db_bytes: int | None
    measured_at: datetime | None


def capacity_totals() -> CapacityTotals | None:
    totals = _call("maintenance.selectors", "latest_capacity_totals")
    if totals is None:
        return None
    artifact = _get(totals, "artifact_bytes", "artifacts_bytes", "artifact_store_bytes", "total_artifact_bytes")
    db = _get(totals, "db_bytes", "database_bytes", "backend_bytes", "total_db_bytes")
    measured = _get(totals, "measured_at", "checked_at", "finished_at", "created_at")
    return CapacityTotals(artifact_bytes=int(artifact) if artifact is not None else None,
                          db_bytes=int(db) if db is not None else None, measured_at=measured)


@dataclass(frozen=True)
class NamingSummary:
    total: int
    non_compliant: int
    examples: list[str]


def _naming(summary: Any) -> NamingSummary | None:
    if summary is None:
        return None
    total = _get(summary, "total", "checked", "count")
    bad = _get(summary, "non_compliant", "noncompliant", "violations", "violating")
    if bad is None:
        compliant = _get(summary, "compliant")
        bad = (int(total) - int(compliant)) if total is not None and compliant is not None else None
    if total is None or bad is None:
        return None
    if isinstance(bad, list | tuple):
        examples, bad = [str(x) for x in bad], len(bad)
    else:
        examples = [str(x) for x in (_get(summary, "examples", "non_compliant_names", "names") or [])]
    return NamingSummary(total=int(total), non_compliant=int(bad), examples=examples[:10])


def experiment_naming_summary() -> NamingSummary | None:
    summary = _naming(_call("catalog.selectors", "naming_compliance_summary"))
    if summary is not None:
        return summary
    # The catalog as merged offers (percent, compliant, total) over its synced experiment index.
    percent = _call("catalog.selectors", "naming_compliance_percent")
    if isinstance(percent, tuple | list) and len(percent) == 3:
        _, compliant, total = (int(x) for x in percent)
        return NamingSummary(total=total, non_compliant=total - compliant, examples=[])
    return None


def model_naming_summary() -> NamingSummary | None:
    summary = _naming(_call("registry_ui.selectors", "model_naming_summary"))
    if summary is not None:
        return summary
    # The registry as merged offers a per-name linter: run it over every registered model.
    findings_for = _provider("registry_ui.selectors", "model_name_findings")
    words_fn = _provider("registry_ui.selectors", "naming_words")
    if findings_for is None or words_fn is None:
        return None
    from mlopsadmin.lib import mlflow_client as mlf

    words = words_fn()
    bad, total = [], 0
    for model in mlf.iter_registered_models():
        total += 1
        findings = findings_for(model.name, words)
        if findings:
            reasons = ", ".join(str(_get(f, "reason", "rule") or f) for f in findings[:2])
            bad.append(f"{model.name}: {reasons}")
    return NamingSummary(total=total, non_compliant=len(bad), examples=bad[:10])
