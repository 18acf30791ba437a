"""Reads for the promotion gate: the model's gate settings (its policy, its team's, the default), the
version's approval, and the facts the gate judges (source run, metric, tags) read in MLflow under a deadline
(`gate_check`, a promotion) or from the registry index (`version_gate`, the version page)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from mlopsadmin.core.selectors import team_for_model
from mlopsadmin.lib import mlflow_bounded as bounded
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import selectors as registry_selectors
from registry_ui.approvals import selectors as approval_selectors
from registry_ui.approvals.imports import approval_tags
from registry_ui.metric_direction import metric_direction
from registry_ui.promotion.gate import (
    RUN_ACTIVE,
    RUN_DELETED,
    RUN_IN_DELETED_EXPERIMENT,
    RUN_MISSING,
    RUN_NONE,
    GateConfig,
    GateResult,
    SourceRun,
    gate_evaluate,
    rule_source_run,
)
from registry_ui.promotion.models import GatePolicy
from registry_ui.promotion.plans import CHAMPION
from registry_ui.promotion.prefetch import GateRuns


def gate_policy_row(model_name: str) -> GatePolicy | None:
    """The model's own gate policy row (None: it uses the defaults)."""
    return GatePolicy.objects.filter(model_name=model_name).first()


def gate_config_for(model_name: str, team: Any = None) -> GateConfig:
    """The gate of one model (see `gate_config_and_default`)."""
    return gate_config_and_default(model_name, team)[0]


def gate_config_and_default(model_name: str, team: Any = None) -> tuple[GateConfig, str]:
    """The gate of one model. Precedence (docs/configuration.md): the model's own policy (GatePolicy; an
    empty metric falls through), then its owning team's policy, then the default ('gate.default' stored by
    apply_config, else the PROMOTION_GATE_* / REGISTRY_DEFAULT_GATE_METRIC settings). The metric's direction
    comes from the model's policy, else from its name (registry_ui.metric_direction). `team`: the owning
    team when the caller has it. Returns (the gate, the default gate's metric: what
    registry_ui.selectors.gate_metric_for shows when the model has no gate-metric tag). Two queries: the
    stored default and team settings together, then the model's policy row."""
    from configuration.selectors import gate_settings

    team = team if team is not None else team_for_model(model_name)
    default, team_fields = gate_settings(team.name if team else None)
    merged = {**default, **team_fields}
    own = GatePolicy.objects.filter(model_name=model_name).first()
    direction, count_imported = "", bool(settings.PROMOTION_GATE_COUNT_IMPORTED_APPROVALS)
    if own is not None:
        merged.update(
            metric=own.metric or merged["metric"],
            threshold=own.threshold,
            max_drop_pct=own.max_drop_pct,
            require_approval=own.require_approval,
        )
        direction, count_imported = own.direction, own.count_imported_approvals
    metric = str(merged["metric"])
    return GateConfig(
        metric=metric,
        threshold=float(merged["threshold"]),
        max_drop_pct=float(merged["max_drop_pct"]),
        require_approval=bool(merged["require_approval"]),
        direction=metric_direction(metric, direction),
        count_imported_approvals=count_imported,
    ), str(default["metric"])


def approved_outside(
    *,
    model_name: str,
    version: str,
    live_tags: Mapping[str, str] | None = None,
    approval: approval_selectors.VersionApproval | None = None,
) -> tuple[str, str]:
    """('by X on D', '') when the version's approval was recorded outside mlopsadmin (imported from its MLflow
    tags), nothing decided here supersedes it and `live_tags` (the version's tags in MLflow now; None: not
    read) still say the same; ('', 'by X on D') when the tags were removed or changed since the import (the
    imported approval no longer stands); ('', '') when there is none. `approval`: the version's approval
    when the caller has read it (approvals.selectors.version_approval), else it is read here."""
    if approval is None:
        approval = approval_selectors.version_approval(model_name=model_name, version=str(version))
    imported = approval.imported_counts
    if imported is None:
        return "", ""
    said = f"by {imported.approved_by}" + (f" on {imported.approval_date}" if imported.approval_date else "")
    if live_tags is not None and approval_tags(live_tags) != (imported.approved_by, imported.approval_date):
        return "", said
    return said, ""


@dataclass(frozen=True)
class VersionFacts:
    """What the gate reads of one version in MLflow: its source run's metric and state, and its tags."""

    version: str
    metric: float | None
    source_run: SourceRun
    tags: dict[str, str]


def _version_and_metric(model_name: str, version: str, metric: str, deadline: bounded.Deadline) -> VersionFacts | None:
    """The version's facts within the deadline; None when the version is gone. The run: the version's
    run_id, a `runs:/<id>/…` source, or the source run of a logged model (`models:/m-…`)."""
    try:
        run_id, source, tags = bounded.get_model_version_info(model_name, version, timeout=deadline.call_timeout())
    except mlf.MlflowNotFound:
        return None
    run_id = registry_selectors.run_id_from(run_id, source)
    if not run_id and source.startswith("models:/m-"):
        run_id = mlf.logged_model_source_run(source[len("models:/") :].split("/", 1)[0]) or ""
    if not run_id:
        return VersionFacts(version, None, SourceRun("", RUN_NONE), tags)
    try:
        stage, metrics, experiment_id = bounded.get_run_state(run_id, timeout=deadline.call_timeout())
    except (mlf.MlflowNotFound, mlf.MlflowInvalid):
        return VersionFacts(version, None, SourceRun(run_id, RUN_MISSING), tags)
    try:  # gc removes a deleted experiment with every run in it, active ones included
        experiment_deleted = bounded.get_experiment_stage(experiment_id, timeout=deadline.call_timeout()) != "active"
    except (mlf.MlflowNotFound, mlf.MlflowInvalid):
        experiment_deleted = True
    state = RUN_DELETED if stage != "active" else RUN_IN_DELETED_EXPERIMENT if experiment_deleted else RUN_ACTIVE
    return VersionFacts(version, metrics.get(metric), SourceRun(run_id, state, experiment_id, experiment_deleted), tags)


def rollback_target_refusal(model_name: str, version: str) -> str:
    """Why a rollback must not make `version` @champion, '' when it may: its source run is deleted, purged or
    in a deleted experiment (the gate's source-run rule, issue 16 case 3: @champion never rests on a run
    garbage collection removes). A version that names no run is not refused (nothing of it is collected).
    Reads MLflow; raises MlflowError when it cannot."""
    deadline = bounded.Deadline(float(settings.MLFLOW_REQUEST_TIMEOUT) * 3)
    facts = _version_and_metric(model_name, version, "", deadline)
    if facts is None:
        return f"Cannot roll back to v{version}: it no longer exists in MLflow."
    if facts.source_run.state in (RUN_ACTIVE, RUN_NONE):
        return ""
    return (
        f"Cannot roll back to v{version} (@previous-champion): {rule_source_run(facts.source_run).message} "
        "Nothing was changed; or promote another version."
    )


@dataclass(frozen=True)
class LocalInputs:
    """The gate's database inputs of a promotion: the model's gate and the approval of `candidate` (the
    version the registry index guessed; None: no guess, no approval read)."""

    candidate: str | None
    config: GateConfig
    approval: approval_selectors.VersionApproval | None


def gate_local_inputs(model_name: str, team: Any, candidate: str | None) -> LocalInputs:
    """Read the gate's database inputs (`gate_config_for`, approvals.selectors.gate_approval of `candidate`:
    one query): a promotion reads them while MLflow answers its alias and run reads (issue 20), and hands
    them to `gate_check`."""
    config = gate_config_for(model_name, team=team)
    approval = approval_selectors.gate_approval(model_name=model_name, version=candidate) if candidate else None
    return LocalInputs(candidate, config, approval)


def gate_check(
    *,
    model_name: str,
    aliases: dict[str, str],
    version: str,
    deadline: bounded.Deadline | None = None,
    team: Any = None,
    prefetched: GateRuns | None = None,
    created: int | None = None,
    config: GateConfig | None = None,
    approval: approval_selectors.VersionApproval | None = None,
) -> GateResult:
    """Evaluate the gate for promoting `version` given the live aliases (reads MLflow, writes nothing).
    `prefetched`: the gate's reads sent beside the alias read (registry_ui.promotion.prefetch), used when
    they are the ones these aliases name for the model created at `created`; otherwise the candidate's and
    the champion's reads run side by side, each bounded by `deadline` (default: a fresh
    PROMOTION_DEADLINE_SECONDS). `team`, `config`, `approval`: the owning team, the model's gate
    (`gate_config_for`) and the approval of `version` (approvals.selectors.version_approval) when the caller
    has read them (a promotion reads them while MLflow answers); read here otherwise."""
    deadline = deadline or bounded.Deadline(float(settings.PROMOTION_DEADLINE_SECONDS))
    config = config if config is not None else gate_config_for(model_name, team=team)
    champion_version = aliases.get(CHAMPION)
    indexed_tags = False  # the candidate's tags are the index's, not read in MLflow now
    if prefetched is not None and prefetched.covers(version, champion_version, created, aliases):
        indexed_tags = not prefetched.tags_live
        candidate: VersionFacts | None = _prefetched_facts(prefetched, version, config.metric)
        champion = _prefetched_facts(prefetched, champion_version, config.metric) if champion_version else None
    else:
        with ThreadPoolExecutor(max_workers=2) as pool:
            champion_future = (
                pool.submit(_version_and_metric, model_name, champion_version, config.metric, deadline)
                if champion_version is not None
                else None
            )
            candidate = _version_and_metric(model_name, version, config.metric, deadline)
            champion = champion_future.result() if champion_future else None
    if candidate is None:
        raise mlf.MlflowNotFound(f"Model {model_name} has no version {version}.", operation="get_model_version")
    if approval is None:
        approval = approval_selectors.gate_approval(model_name=model_name, version=candidate.version)
    tags = candidate.tags
    if approval.imported_counts is not None and indexed_tags:
        # An approval imported from MLflow tags stands only while MLflow still carries them: read them now
        # (the index's copy of the tags may be older than a removal).
        tags = bounded.get_model_version_info(model_name, candidate.version, timeout=deadline.call_timeout())[2]
    outside, withdrawn = approved_outside(
        model_name=model_name, version=candidate.version, live_tags=tags, approval=approval
    )
    return gate_evaluate(
        config=config,
        candidate_version=candidate.version,
        candidate_metric=candidate.metric,
        champion_version=champion.version if champion else None,
        champion_metric=champion.metric if champion else None,
        approved=approval.approved,
        approved_outside=outside,
        imported_no_longer=withdrawn,
        source_run=candidate.source_run,
    )


def _prefetched_facts(prefetched: GateRuns, version: str, metric: str) -> VersionFacts:
    """A version's facts from prefetched reads that cover it (the same rules as _version_and_metric)."""
    run_id = prefetched.run_of[version]
    stage, metrics, experiment_id = prefetched.states[run_id]
    experiment_deleted = prefetched.experiments.get(experiment_id, "active") != "active"
    state = RUN_DELETED if stage != "active" else RUN_IN_DELETED_EXPERIMENT if experiment_deleted else RUN_ACTIVE
    source = SourceRun(run_id, state, experiment_id, experiment_deleted)
    return VersionFacts(version, metrics.get(metric), source, dict(prefetched.tags or {}))


def version_gate(
    view: Any,
    *,
    team: Any = None,
    config: GateConfig | None = None,
    approval: approval_selectors.VersionApproval | None = None,
) -> GateResult:
    """The gate for promoting a version as the version page shows it (`view`: registry_ui.index_read's
    VersionView): the same rules as `gate_check`, on the registry index (the versions' source runs, their
    state and metrics, their experiment's state and the version's tags as last read; reads no MLflow, writes
    nothing). The promotion itself re-reads MLflow under the model's lock (`gate_check`). `team`, `config`,
    `approval`: the owning team, the model's gate (`gate_config_for`) and the version's approval
    (approvals.selectors.version_approval) when the caller has read them; read here otherwise."""
    config = config if config is not None else gate_config_for(view.model.name, team=team)
    if approval is None:
        approval = approval_selectors.version_approval(model_name=view.model.name, version=view.version.version)
    version, champion = view.version, view.champion
    if champion is None and view.model.aliases.get(CHAMPION) == version.version:
        champion = version  # promoting the champion itself: its own value is the one to compare with

    def source(candidate: mlf.ModelVersion) -> tuple[float | None, SourceRun]:
        state = view.state_of(candidate)
        if state is None:
            return None, SourceRun("", RUN_NONE)
        stage, metrics, experiment_id, experiment_deleted = state
        if stage not in ("active", "deleted"):
            return None, SourceRun(candidate.run_id, RUN_MISSING)
        kind = RUN_DELETED if stage != "active" else RUN_IN_DELETED_EXPERIMENT if experiment_deleted else RUN_ACTIVE
        return metrics.get(config.metric), SourceRun(candidate.run_id, kind, experiment_id, experiment_deleted)

    candidate_metric, candidate_run = source(version)
    champion_metric = source(champion)[0] if champion is not None else None
    outside, withdrawn = approved_outside(
        model_name=view.model.name, version=version.version, live_tags=version.tags, approval=approval
    )
    return gate_evaluate(
        config=config,
        candidate_version=version.version,
        candidate_metric=candidate_metric,
        champion_version=champion.version if champion is not None else None,
        champion_metric=champion_metric,
        approved=approval.approved,
        approved_outside=outside,
        imported_no_longer=withdrawn,
        source_run=candidate_run,
    )
