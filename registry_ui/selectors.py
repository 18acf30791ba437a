"""Reads of the model pages: the model overview, a model's versions, lineage, champion vs candidate, the
naming lint and required metadata. Models, versions and their source runs come from the registry index
(registry_ui/index_read.py, kept in step with MLflow by registry_ui/index_sync.py); only a gate metric's step
history is read from MLflow live (the version page's chart). Approval state and the inbox are read in
`registry_ui/approvals/selectors.py`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from configuration.selectors import pattern_rules
from mlopsadmin.core.charts import LineChart, line_chart
from mlopsadmin.core.errors import NotFound
from mlopsadmin.core.models import Team
from mlopsadmin.core.selectors import all_teams, model_ownership_map, team_for_model
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib import mlflow_filters
from registry_ui import index_read, validation
from registry_ui.approvals import selectors as approval_selectors
from registry_ui.metric_direction import HIGHER, LOWER, metric_direction
from registry_ui.models import (
    ApprovalRequest,
    NamingWord,
    NamingWordKind,
    RequiredMetadataKey,
)
from registry_ui.naming import (
    DEFAULT_ALGORITHM_WORDS,
    DEFAULT_RESERVED_WORDS,
    NamingFinding,
    lint_model_name,
)

TRACKED_ALIASES = ("champion", "challenger", "previous-champion", "rolled-back")
GATE_METRIC_MODEL_TAG = "gate_metric"
_RUNS_SOURCE = re.compile(r"^runs:/([0-9a-fA-F]{8,64})(?:/|$)")


# --- Editable data: naming words, required metadata --------------------------------------------
def naming_words() -> tuple[list[str], list[str]]:
    """(algorithm words, reserved words) from the database; the built-in lists only if it has none."""
    rows = list(NamingWord.objects.values_list("word", "kind"))
    if not rows:
        return list(DEFAULT_ALGORITHM_WORDS), list(DEFAULT_RESERVED_WORDS)
    algorithms = [w for w, k in rows if k == NamingWordKind.ALGORITHM]
    reserved = [w for w, k in rows if k == NamingWordKind.RESERVED]
    return algorithms, reserved


def model_name_findings(name: str, words: tuple[list[str], list[str]] | None = None) -> list[NamingFinding]:
    algorithms, reserved = words or naming_words()
    return lint_model_name(name, algorithm_words=algorithms, reserved_words=reserved)


def required_metadata_keys() -> list[str]:
    return list(RequiredMetadataKey.objects.values_list("key", flat=True))


def gate_metric_for(model: mlf.RegisteredModel | None, default: str | None = None) -> str:
    """The metric the registry pages show for a model: its gate-metric tag, else the default gate's metric
    (`default` when the caller has read it, e.g. promotion.gate_reads.gate_config_and_default; else read)."""
    if model is not None and model.tags.get(GATE_METRIC_MODEL_TAG):
        return model.tags[GATE_METRIC_MODEL_TAG]
    if default is not None:
        return default
    from configuration.selectors import gate_default

    return str(gate_default()["metric"])


# --- Registry overview --------------------------------------------------------------------------
@dataclass
class ModelRow:
    model: mlf.RegisteredModel
    team: Team | None
    aliases: list[tuple[str, str]]  # tracked aliases present: (alias, version)
    other_aliases: list[tuple[str, str]]
    pending: int
    findings: list[NamingFinding]

    @property
    def name(self) -> str:
        return self.model.name


def registry_overview(*, query: str = "", team: str = "", flagged_only: bool = False) -> list[ModelRow]:
    """Every registered model (from the index), with team, tracked aliases, pending approvals and lint."""
    teams, ownership, patterns = all_teams(), model_ownership_map(), pattern_rules()
    pending = approval_selectors.pending_counts_by_model()
    words = naming_words()
    rows: list[ModelRow] = []
    for model in index_read.models():
        if query and query.lower() not in model.name.lower():
            continue
        owner = team_for_model(model.name, teams, ownership, patterns)
        if team and (owner.name if owner else "") != team:
            continue
        findings = model_name_findings(model.name, words)
        if flagged_only and not findings:
            continue
        tracked = [(a, model.aliases[a]) for a in TRACKED_ALIASES if a in model.aliases]
        other = sorted((a, v) for a, v in model.aliases.items() if a not in TRACKED_ALIASES)
        rows.append(ModelRow(model, owner, tracked, other, pending.get(model.name, 0), findings))
    rows.sort(key=lambda r: r.name.lower())
    return rows


# --- One model ------------------------------------------------------------------------------------
def run_id_from(run_id: str, source: str) -> str:
    """A version's run: its run_id, else the id in a `runs:/<id>/…` source, else ''."""
    if run_id:
        return run_id
    match = _RUNS_SOURCE.match(source or "")
    return match.group(1) if match else ""


def run_id_of(version: mlf.ModelVersion) -> str:
    return run_id_from(version.run_id, version.source)


def run_ui_url(run: mlf.Run) -> str:
    return f"{mlf.ui_url()}/#/experiments/{run.experiment_id}/runs/{run.run_id}"


def experiment_ui_url(experiment_id: str) -> str:
    return f"{mlf.ui_url()}/#/experiments/{experiment_id}"


def model_ui_url(name: str, version: str | None = None) -> str:
    from urllib.parse import quote

    base = f"{mlf.ui_url()}/#/models/{quote(name, safe='')}"
    return f"{base}/versions/{version}" if version else base


def _safe_run(run_id: str) -> mlf.Run | None:
    if not run_id:
        return None
    try:
        return mlf.get_run(run_id)
    except mlf.MlflowNotFound:
        return None


RUN_FETCH_THREADS = 4
_RUN_ID_RE = re.compile(r"^[0-9a-fA-F]{8,64}$")


def runs_by_id(run_ids: list[str]) -> dict[str, mlf.Run]:
    """Runs read from MLflow now, with every tag, param and metric (the compare page; the model and version
    pages read the registry index), in few round trips: the first run tells its experiment, one search_runs
    (`attributes.run_id IN (...)`) fetches the others of that experiment, and the few left (other
    experiments) are fetched concurrently."""
    wanted = sorted({r for r in run_ids if r and _RUN_ID_RE.match(r)})
    found: dict[str, mlf.Run] = {}
    if not wanted:
        return found
    first = _safe_run(wanted[0])
    if first is not None:
        found[first.run_id] = first
        rest = [r for r in wanted if r not in found]
        if rest:
            for run in mlf.iter_runs(
                [first.experiment_id],
                filter_string=mlflow_filters.in_list("attributes.run_id", rest),
                include_deleted=True,
                page_size=len(rest) + 1,
            ):
                found[run.run_id] = run
    left = [r for r in wanted if r not in found and r != wanted[0]]
    if left:
        with ThreadPoolExecutor(max_workers=min(RUN_FETCH_THREADS, len(left))) as pool:
            for run_id, fetched in zip(left, pool.map(_safe_run, left), strict=True):
                if fetched is not None:
                    found[run_id] = fetched
    return found


@dataclass
class VersionRow:
    version: mlf.ModelVersion
    run: mlf.Run | None
    run_url: str
    gate_value: float | None
    aliases: list[str]
    approval: ApprovalRequest | None
    missing: list[str]
    required: int

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def present(self) -> int:
        return self.required - len(self.missing)


def missing_metadata(tags: dict[str, str], required: Iterable[str]) -> list[str]:
    return [key for key in required if not str(tags.get(key, "")).strip()]


def model_for_page(name: str) -> tuple[mlf.RegisteredModel, index_read.Versions, datetime | None]:
    """(the model, its versions newest first, when they were read from MLflow) from the index; a model the
    index does not hold yet is read from MLflow now. Raises NotFound when MLflow has no such model."""
    row = index_read.model_row(name)
    return index_read.model_record(row), index_read.Versions(row), index_read.as_of(row)


def version_for_page(name: str, version: str) -> index_read.VersionView:
    """One version with its model, the @champion version and both source runs, from the index (a version it
    does not know sends the model to MLflow once). Raises NotFound when MLflow has no such model or version."""
    return index_read.version_view(name, int(version))


def registry_as_of() -> datetime | None:
    """When the overview's models were last listed from MLflow."""
    return index_read.as_of()


def model_versions(name: str) -> index_read.Versions:
    """All versions of a model (from the index), newest first: sliced by a Paginator in the database.
    Raises NotFound when MLflow has no such model."""
    return index_read.Versions(index_read.model_row(name))


def version_rows(
    model: mlf.RegisteredModel, versions: list[mlf.ModelVersion], gate_metric: str, required: list[str] | None = None
) -> list[VersionRow]:
    """Rows for the versions given (one page), with each source run's gate metric (indexed runs: one query).
    `required`: the required metadata keys when the caller has them."""
    required = required_metadata_keys() if required is None else required
    latest: dict[str, ApprovalRequest] = {}
    for req in (
        ApprovalRequest.objects.filter(model_name=model.name, version__in=[v.version for v in versions])
        .select_related("requester", "decided_by")
        .order_by("created_at", "id")
    ):
        latest[req.version] = req  # ascending: the last one wins
    by_version: dict[str, list[str]] = {}
    for alias, number in model.aliases.items():
        by_version.setdefault(number, []).append(alias)
    runs = index_read.runs(run_id_of(v) for v in versions)
    rows = []
    for version in versions:
        run = runs.get(run_id_of(version))
        rows.append(
            VersionRow(
                version=version,
                run=run,
                run_url=run_ui_url(run) if run else "",
                gate_value=run.metrics.get(gate_metric) if run else None,
                aliases=sorted(set(by_version.get(version.version, [])) | set(version.aliases)),
                approval=latest.get(version.version),
                missing=missing_metadata(version.tags, required),
                required=len(required),
            )
        )
    return rows


@dataclass
class Lineage:
    version: mlf.ModelVersion
    run: mlf.Run | None
    run_url: str
    experiment: mlf.Experiment | None
    experiment_url: str
    params: list[tuple[str, str]]
    metrics: list[tuple[str, float]]
    git_commit: str
    data_version: str
    training_data: str
    training_commit: str
    missing: list[str] = field(default_factory=list)


def version_lineage(view: index_read.VersionView, required: list[str] | None = None) -> Lineage:
    """'What data was this trained on': the source run, its experiment, params, final metrics, tags (as
    indexed). `required`: the required metadata keys when the caller has them."""
    version, run = view.version, view.run_of(view.version)
    experiment = view.experiment() if run is not None else None
    return Lineage(
        version=version,
        run=run,
        run_url=run_ui_url(run) if run else "",
        experiment=experiment,
        experiment_url=experiment_ui_url(experiment.experiment_id) if experiment else "",
        params=sorted(run.params.items()) if run else [],
        metrics=sorted(run.metrics.items()) if run else [],
        git_commit=run.tags.get("git.commit", "") if run else "",
        data_version=run.tags.get("data.version", "") if run else "",
        training_data=version.tags.get("training_data", ""),
        training_commit=version.tags.get("training_commit", ""),
        missing=missing_metadata(version.tags, required_metadata_keys() if required is None else required),
    )


@dataclass
class MetricDiff:
    key: str
    champion: float | None
    candidate: float | None
    direction: str = HIGHER  # registry_ui.metric_direction: which way is better for this metric

    @property
    def percent(self) -> float | None:
        """The candidate's change vs. the champion, in % (its sign is the raw change, not better/worse)."""
        if self.champion is None or self.candidate is None or self.champion == 0:
            return None
        return (self.candidate - self.champion) / abs(self.champion) * 100.0

    @property
    def better(self) -> bool | None:
        """True when the candidate is better than the champion for this metric's direction, False when
        worse, None when equal or not comparable (the comparison's green/red)."""
        if self.champion is None or self.candidate is None or self.candidate == self.champion:
            return None
        return (self.candidate < self.champion) if self.direction == LOWER else (self.candidate > self.champion)


@dataclass
class Comparison:
    champion: mlf.ModelVersion | None
    candidate: mlf.ModelVersion
    gate_metric: str
    rows: list[MetricDiff]
    chart: LineChart | None
    note: str = ""


def metric_diffs(
    champion: dict[str, float], candidate: dict[str, float], gate_metric: str, directions: dict[str, str] | None = None
) -> list[MetricDiff]:
    """One row per metric of either run, the gate metric first; each with its direction (`directions`
    overrides the name-based default, e.g. the gate policy's choice for its metric)."""
    keys = sorted(set(champion) | set(candidate), key=lambda k: (k != gate_metric, k))
    chosen = directions or {}
    return [MetricDiff(k, champion.get(k), candidate.get(k), metric_direction(k, chosen.get(k, ""))) for k in keys]


def champion_comparison(
    view: index_read.VersionView, gate_metric: str, directions: dict[str, str] | None = None
) -> Comparison:
    """The version's final metrics against the current @champion's (coloured by each metric's direction),
    from the index. The step chart is drawn apart (`comparison_chart`: MLflow, on demand)."""
    champion_run, candidate_run = view.run_of(view.champion), view.run_of(view.version)
    rows = metric_diffs(
        champion_run.metrics if champion_run else {},
        candidate_run.metrics if candidate_run else {},
        gate_metric,
        directions,
    )
    champion_number = view.model.aliases.get("champion")
    note = ""
    if champion_number == view.version.version:
        note = "This version is the current champion."
    elif not champion_number:
        note = "The model has no @champion yet: nothing to compare against."
    return Comparison(view.champion, view.version, gate_metric, rows, None, note)


def comparison_chart(
    view: index_read.VersionView, gate_metric: str, directions: dict[str, str] | None = None
) -> LineChart | None:
    """The gate metric per step of the version and the @champion: their metric histories, read from MLflow
    (two calls; the version page loads it after the page). None when neither has a history."""
    series = []
    champion = view.champion
    for label, kind, run in (
        (f"champion v{champion.version if champion else ''}", "series-champion", view.run_of(champion)),
        (f"candidate v{view.version.version}", "series-candidate", view.run_of(view.version)),
    ):
        if run is not None:
            points = [(float(p.step), p.value) for p in mlf.get_metric_history(run.run_id, gate_metric)]
            series.append((label, kind, points))
    better = metric_direction(gate_metric, (directions or {}).get(gate_metric, ""))
    label = f"{gate_metric} ({better} is better)"
    return line_chart(series, x_label="step", y_label=label) if any(s[2] for s in series) else None


def existing_model_name(model_name: str) -> str:
    """`model_name` checked by the one name rule (registry_ui/validation.py) and found in MLflow's registry.
    Raises InvalidInput (a name MLflow refuses) or NotFound ("No registered model named ..."): a command or
    task given one model never reports an empty result for a mistyped name."""
    name = validation.model_name(model_name)
    try:
        mlf.get_registered_model(name)
    except mlf.MlflowNotFound:
        raise NotFound(f"No registered model named {name!r} in MLflow.") from None
    return name
