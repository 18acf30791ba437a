"""The validation gate: pure rules, no I/O. Each rule passes or fails on its own and says why, with
the numbers, so a blocked promotion lists every failed rule."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mlopsadmin.core.formatting import is_finite_number, json_number, json_safe

PASS = "pass"
FAIL = "fail"
SKIP = "skipped"


HIGHER = "higher"
LOWER = "lower"


@dataclass(frozen=True)
class GateConfig:
    metric: str
    threshold: float  # higher-is-better: at least this; lower-is-better: at most this
    max_drop_pct: float  # the largest allowed worsening vs. the champion, in % of the champion's value
    require_approval: bool
    direction: str = HIGHER  # registry_ui.metric_direction: HIGHER or LOWER
    count_imported_approvals: bool = True  # approvals recorded in MLflow tags before mlopsadmin

    @property
    def lower_is_better(self) -> bool:
        return self.direction == LOWER


@dataclass(frozen=True)
class RuleResult:
    rule: str
    status: str  # pass, fail, skipped
    message: str
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status == FAIL


@dataclass(frozen=True)
class GateResult:
    config: GateConfig
    candidate_version: str
    champion_version: str | None
    rules: list[RuleResult]

    @property
    def passed(self) -> bool:
        return not any(r.failed for r in self.rules)

    @property
    def failures(self) -> list[RuleResult]:
        return [r for r in self.rules if r.failed]

    def reasons(self) -> list[str]:
        return [r.message for r in self.failures]

    def as_json(self) -> dict[str, Any]:
        return json_safe(
            {
                "passed": self.passed,
                "candidate_version": self.candidate_version,
                "champion_version": self.champion_version,
                "config": asdict(self.config),
                "rules": [asdict(r) for r in self.rules],
            }
        )


def _fmt(value: float) -> str:
    return f"{value:.4f}"


def _finite(value: float | None) -> bool:
    return is_finite_number(value)


RUN_ACTIVE = "active"
RUN_DELETED = "deleted"  # soft-deleted: the next `mlflow gc` removes it
RUN_MISSING = "missing"  # purged, or never existed
RUN_NONE = "none"  # the version names no run at all
RUN_IN_DELETED_EXPERIMENT = "experiment_deleted"  # active run, soft-deleted experiment: gc removes both


@dataclass(frozen=True)
class SourceRun:
    """The run a version was registered from, as the gate saw it."""

    run_id: str
    state: str  # RUN_ACTIVE, RUN_DELETED, RUN_IN_DELETED_EXPERIMENT, RUN_MISSING or RUN_NONE
    experiment_id: str = ""
    experiment_deleted: bool = False  # the run's experiment is soft-deleted (gc removes it with its runs)

    @property
    def readable(self) -> bool:
        """Its metrics can be read (a soft-deleted run still has them)."""
        return self.state in (RUN_ACTIVE, RUN_DELETED, RUN_IN_DELETED_EXPERIMENT)


def rule_source_run(source: SourceRun) -> RuleResult:
    """The version's source run exists and is active: @champion must not rest on a run that garbage
    collection removes (issue 16)."""
    values = {"run_id": source.run_id, "state": source.state}
    if source.state == RUN_ACTIVE:
        return RuleResult("source_run", PASS, f"Source run {source.run_id} exists and is active.", values)
    in_deleted = f" in deleted experiment {source.experiment_id}" if source.experiment_deleted else ""
    if source.state == RUN_DELETED:
        message = (
            f"The source run {source.run_id} is deleted (soft){in_deleted}: the next garbage collection removes "
            f"it. Restore {'the experiment and ' if in_deleted else ''}the run in MLflow first."
        )
    elif source.state == RUN_IN_DELETED_EXPERIMENT:
        message = (
            f"The source run {source.run_id} is active, but its experiment {source.experiment_id} is deleted: "
            "garbage collection removes a deleted experiment with all its runs. Restore the experiment in "
            "MLflow first."
        )
    elif source.state == RUN_MISSING:
        message = f"The source run {source.run_id} no longer exists in MLflow (purged)."
    else:
        message = "The version names no source run (no run_id, and its source is not a run's)."
    return RuleResult("source_run", FAIL, message, values)


def rule_metric_present(config: GateConfig, candidate: float | None, source: SourceRun | None = None) -> RuleResult:
    if source is not None and not source.readable:
        return RuleResult("metric_present", SKIP, "Not checked: there is no source run to read.", {})
    if candidate is None:
        return RuleResult(
            "metric_present", FAIL, f"The source run has no metric '{config.metric}'.", {"metric": config.metric}
        )
    if not _finite(candidate):
        return RuleResult(
            "metric_present",
            FAIL,
            f"The source run's '{config.metric}' is {json_number(candidate)}: not a finite number.",
            {"metric": config.metric, "value": json_number(candidate)},
        )
    return RuleResult(
        "metric_present", PASS, f"{config.metric} = {_fmt(candidate)}", {"metric": config.metric, "value": candidate}
    )


def rule_threshold(config: GateConfig, candidate: float | None) -> RuleResult:
    values = {"value": json_number(candidate), "threshold": config.threshold, "direction": config.direction}
    if not _finite(candidate):
        return RuleResult("threshold", SKIP, "Not checked: the metric is missing or not a finite number.", values)
    assert candidate is not None
    low = config.lower_is_better
    if (candidate <= config.threshold) if low else (candidate >= config.threshold):
        sign = "≤" if low else "≥"
        return RuleResult(
            "threshold", PASS, f"{config.metric} {_fmt(candidate)} {sign} threshold {_fmt(config.threshold)}", values
        )
    side = "above" if low else "below"
    better = " (lower is better)" if low else ""
    return RuleResult(
        "threshold",
        FAIL,
        f"{config.metric} {_fmt(candidate)} is {side} the threshold {_fmt(config.threshold)}{better}.",
        values,
    )


def rule_no_regression(
    config: GateConfig, candidate: float | None, champion: float | None, champion_version: str | None
) -> RuleResult:
    """At most `max_drop_pct` % worse than the champion: below it for higher-is-better metrics, above it
    for lower-is-better ones (a loss may rise by at most that much)."""
    values: dict[str, Any] = {
        "value": json_number(candidate),
        "champion_value": json_number(champion),
        "champion_version": champion_version,
        "max_drop_pct": config.max_drop_pct,
        "direction": config.direction,
    }
    if not _finite(candidate):
        return RuleResult("no_regression", SKIP, "Not checked: the metric is missing or not a finite number.", values)
    assert candidate is not None
    if champion_version is None:
        return RuleResult("no_regression", PASS, "No current champion: nothing to compare with.", values)
    if champion is None:
        return RuleResult(
            "no_regression",
            PASS,
            f"Champion v{champion_version} has no '{config.metric}': nothing to compare with.",
            values,
        )
    if not _finite(champion):
        return RuleResult(
            "no_regression",
            PASS,
            f"Champion v{champion_version}'s '{config.metric}' is {json_number(champion)}, not a finite number: "
            f"nothing comparable.",
            values,
        )
    low = config.lower_is_better
    allowed = abs(champion) * config.max_drop_pct / 100.0
    limit = champion + allowed if low else champion - allowed
    values["ceiling" if low else "floor"] = limit
    worse_pct = ((candidate - champion) if low else (champion - candidate)) / abs(champion) * 100.0 if champion else 0.0
    values["drop_pct"] = worse_pct
    if (candidate <= limit) if low else (candidate >= limit):
        return RuleResult(
            "no_regression",
            PASS,
            f"{_fmt(candidate)} vs. champion v{champion_version} {_fmt(champion)} "
            f"(allowed {'rise' if low else 'drop'} {config.max_drop_pct:g}%"
            f"{', lower is better' if low else ''})",
            values,
        )
    # How much worse: in % of the champion, or in absolute terms when the champion is exactly 0 (then the
    # relative allowance is 0 too: any worsening fails).
    by = f"{worse_pct:.2f}%" if champion else f"{abs(candidate - champion):.4f}"
    zero = "; a champion at 0 allows no worsening (the allowance is a percentage of it)" if not champion else ""
    if low:
        message = (
            f"{config.metric} {_fmt(candidate)} is {by} above champion v{champion_version} "
            f"({_fmt(champion)}), and lower is better; at most {config.max_drop_pct:g}% worse is allowed "
            f"(ceiling {_fmt(limit)}){zero}."
        )
    else:
        message = (
            f"{config.metric} {_fmt(candidate)} is {by} below champion v{champion_version} "
            f"({_fmt(champion)}); at most {config.max_drop_pct:g}% is allowed (floor {_fmt(limit)}){zero}."
        )
    return RuleResult("no_regression", FAIL, message, values)


def rule_approval(
    config: GateConfig, approved: bool, approved_outside: str = "", imported_no_longer: str = ""
) -> RuleResult:
    """Approved in mlopsadmin, or (when the policy counts them) approved outside mlopsadmin: the
    `approved_by`/`approval_date` tags found in MLflow and imported (`approved_outside`: "by X on D").
    `imported_no_longer` ("by X on D"): an imported approval whose tags MLflow no longer carries as imported."""
    values: dict[str, Any] = {"required": config.require_approval, "approved": approved}
    if approved_outside:
        values["approved_outside"] = approved_outside
    if not config.require_approval:
        return RuleResult("approval", PASS, "Approval not required by this model's policy.", values)
    if approved:
        return RuleResult("approval", PASS, "The version is approved.", values)
    if approved_outside and config.count_imported_approvals:
        return RuleResult(
            "approval",
            PASS,
            f"Approved outside mlopsadmin {approved_outside} (imported from MLflow tags; this model's policy "
            "counts imported approvals).",
            values,
        )
    if approved_outside:
        return RuleResult(
            "approval",
            FAIL,
            f"Approved only outside mlopsadmin ({approved_outside}, imported); this model's policy counts only "
            "approvals decided in mlopsadmin.",
            values,
        )
    if imported_no_longer:
        values["imported_no_longer"] = imported_no_longer
        return RuleResult(
            "approval",
            FAIL,
            f"The approval imported from MLflow tags ({imported_no_longer}) no longer stands: the version's "
            "approved_by/approval_date tags in MLflow were removed or changed since. Approve it in mlopsadmin "
            "(or re-import once the tags are right).",
            values,
        )
    return RuleResult(
        "approval", FAIL, "The version is not approved, and this model's policy requires approval.", values
    )


def gate_evaluate(
    *,
    config: GateConfig,
    candidate_version: str,
    candidate_metric: float | None,
    champion_version: str | None,
    champion_metric: float | None,
    approved: bool,
    source_run: SourceRun | None = None,
    approved_outside: str = "",
    imported_no_longer: str = "",
) -> GateResult:
    """Every rule, each on its own (a blocked promotion lists every failed rule). `source_run` None: the
    caller did not look it up (unit tests of the metric rules); gate_check always passes it."""
    rules = [rule_source_run(source_run)] if source_run is not None else []
    return GateResult(
        config=config,
        candidate_version=str(candidate_version),
        champion_version=champion_version,
        rules=rules
        + [
            rule_metric_present(config, candidate_metric, source_run),
            rule_threshold(config, candidate_metric),
            rule_no_regression(config, candidate_metric, champion_metric, champion_version),
            rule_approval(config, approved, approved_outside, imported_no_longer),
        ],
    )
