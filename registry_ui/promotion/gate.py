"""The validation gate: pure rules, no I/O. Each rule passes or fails on its own and says why, with
the numbers, so a blocked promotion lists every failed rule."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mlopsadmin.core.formatting import is_finite_number, json_number, json_safe

PASS = "pass"
FAIL = "fail"
SKIP = "skipped"


@dataclass(frozen=True)
class GateConfig:
    metric: str
    threshold: float
    max_drop_pct: float
    require_approval: bool


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


def rule_metric_present(config: GateConfig, candidate: float | None) -> RuleResult:
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
    values = {"value": json_number(candidate), "threshold": config.threshold}
    if not _finite(candidate):
        return RuleResult("threshold", SKIP, "Not checked: the metric is missing or not a finite number.", values)
    assert candidate is not None
    if candidate >= config.threshold:
        return RuleResult(
            "threshold", PASS, f"{config.metric} {_fmt(candidate)} ≥ threshold {_fmt(config.threshold)}", values
        )
    return RuleResult(
        "threshold", FAIL, f"{config.metric} {_fmt(candidate)} is below the threshold {_fmt(config.threshold)}.", values
    )


def rule_no_regression(
    config: GateConfig, candidate: float | None, champion: float | None, champion_version: str | None
) -> RuleResult:
    values: dict[str, Any] = {
        "value": json_number(candidate),
        "champion_value": json_number(champion),
        "champion_version": champion_version,
        "max_drop_pct": config.max_drop_pct,
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
    floor = champion * (1 - config.max_drop_pct / 100.0)
    values["floor"] = floor
    drop_pct = (champion - candidate) / champion * 100.0 if champion else 0.0
    values["drop_pct"] = drop_pct
    if candidate >= floor:
        return RuleResult(
            "no_regression",
            PASS,
            f"{_fmt(candidate)} vs. champion v{champion_version} {_fmt(champion)} "
            f"(allowed drop {config.max_drop_pct:g}%)",
            values,
        )
    return RuleResult(
        "no_regression",
        FAIL,
        f"{config.metric} {_fmt(candidate)} is {drop_pct:.2f}% below champion v{champion_version} "
        f"({_fmt(champion)}); at most {config.max_drop_pct:g}% is allowed (floor {_fmt(floor)}).",
        values,
    )


def rule_approval(config: GateConfig, approved: bool) -> RuleResult:
    values = {"required": config.require_approval, "approved": approved}
    if not config.require_approval:
        return RuleResult("approval", PASS, "Approval not required by this model's policy.", values)
    if approved:
        return RuleResult("approval", PASS, "The version is approved.", values)
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
) -> GateResult:
    return GateResult(
        config=config,
        candidate_version=str(candidate_version),
        champion_version=champion_version,
        rules=[
            rule_metric_present(config, candidate_metric),
            rule_threshold(config, candidate_metric),
            rule_no_regression(config, candidate_metric, champion_metric, champion_version),
            rule_approval(config, approved),
        ],
    )
