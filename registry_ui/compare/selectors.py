"""Side-by-side comparison of model versions or runs (issue 19): a table of chosen metrics, params and
tags with each metric's direction (registry_ui.metric_direction: the configuration's [metrics] lists, the
model's gate policy for its gate metric, else the name), the best value marked and rows that differ
flagged; one chart per chosen metric with the compared runs overlaid, from
the full metric history (the gateway reads every page MLflow answers; the chart thins what it draws), drawn
by the product's one chart module (mlopsadmin.core.charts).

Bad input never raises here (except `parse_run_ids` for a body too large to be a list of run ids): what
cannot be compared is named in `Comparison.problems` and the page shows it inline above its picker.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.urls import reverse

from mlopsadmin.core.charts import LineChart, line_chart
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import validation
from registry_ui.metric_direction import LOWER, metric_direction
from registry_ui.selectors import run_id_of, run_ui_url, runs_by_id

MAX_COLUMNS = 8  # versions or runs at a time: one colour each (static/css/app.css .series-0 … 7)
MAX_CHARTS = 6  # charts for the first chosen metrics; each costs one history read per compared run
MAX_CHART_POINTS = 400  # drawn points per line (the first, the last and each bucket's low and high)
HISTORY_THREADS = 4
RUN_ID = re.compile(r"^[0-9a-fA-F]{8,64}$")
MAX_RUN_IDS_TEXT = 4000
SYSTEM_TAG_PREFIX = "mlflow."


@dataclass
class Column:
    """One compared version or run."""

    key: str  # the version number, or the run id
    label: str  # the chart legend: "v3 @champion", or the run's name
    url: str  # the version page, or the run in the MLflow UI
    run: mlf.Run | None
    run_url: str = ""
    aliases: list[str] = field(default_factory=list)
    css_class: str = ""
    note: str = ""  # why a column has no values (no source run)


@dataclass
class Cell:
    text: str
    value: float | str | None
    best: bool = False


@dataclass
class Row:
    kind: str  # metric, param or tag
    key: str
    cells: list[Cell]
    direction: str = ""  # metrics: higher or lower (is better)

    @property
    def differs(self) -> bool:
        """True when the compared columns do not all hold the same value (a missing value counts)."""
        return len({_same_key(c.value) for c in self.cells}) > 1


@dataclass
class MetricChart:
    metric: str
    direction: str
    chart: LineChart
    points: int  # points in the full histories of all compared runs
    last_step: int | None


@dataclass
class Choices:
    metrics: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    columns: list[Column]
    rows: list[Row]
    charts: list[MetricChart]
    available: Choices  # every key any compared run has (the picker)
    chosen: Choices
    problems: list[str] = field(default_factory=list)
    gate_metric: str = ""

    @property
    def single_value_metrics(self) -> list[str]:
        """Chosen metrics (among the charted first MAX_CHARTS) without a chart: logged once per run."""
        charted = {c.metric for c in self.charts}
        return [m for m in self.chosen.metrics[:MAX_CHARTS] if m not in charted]

    def rows_of(self, kind: str) -> list[Row]:
        return [r for r in self.rows if r.kind == kind]


def _same_key(value: float | str | None) -> object:
    return "NaN" if isinstance(value, float) and math.isnan(value) else value


def format_value(value: float | str | None) -> str:
    """A metric for the table: up to 6 significant digits; NaN/±inf spelled out; '–' when missing."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.6g}"


def parse_run_ids(text: str) -> list[str]:
    """Run ids typed or pasted (separated by spaces, commas or new lines), in order, without repeats.
    InvalidInput when the text is longer than any list of MAX_COLUMNS run ids could be."""
    if len(text) > MAX_RUN_IDS_TEXT:
        raise InvalidInput(f"Too much text for a list of run ids ({len(text)} characters).")
    return list(dict.fromkeys(t for t in re.split(r"[\s,;]+", text) if t))


# --- Versions -------------------------------------------------------------------------------------
def compare_versions(
    *,
    model_name: str,
    versions: Sequence[str],
    metrics: Sequence[str] | None = None,
    params: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
) -> Comparison:
    """Versions of one model side by side (in the order given). `metrics`/`params`/`tags`: the rows to
    show; None shows every metric and param and every tag that is not MLflow's own (`mlflow.*`). The
    gate metric (the model's gate policy) comes first with the policy's direction. Unknown or
    malformed versions are named in `problems`; MlflowError when MLflow cannot be read."""
    from registry_ui.promotion.gate_reads import gate_config_for

    problems: list[str] = []
    wanted = _chosen_versions(versions, problems)
    model = mlf.get_registered_model(model_name)
    by_alias: dict[str, list[str]] = {}
    for alias, number in model.aliases.items():
        by_alias.setdefault(str(number), []).append(alias)
    found: list[mlf.ModelVersion] = []
    for number in wanted:
        try:
            found.append(mlf.get_model_version(model_name, number))
        except (mlf.MlflowNotFound, mlf.MlflowInvalid):
            problems.append(f"{model_name} has no version {number}.")
    runs = runs_by_id([run_id_of(v) for v in found])
    columns = []
    for version in found:
        run = runs.get(run_id_of(version))
        aliases = sorted(set(by_alias.get(version.version, [])) | set(version.aliases))
        columns.append(
            Column(
                key=version.version,
                label=" ".join([f"v{version.version}", *(f"@{a}" for a in aliases)]),
                url=reverse("registry:version", args=[model_name, version.version]),
                run=run,
                run_url=run_ui_url(run) if run else "",
                aliases=aliases,
                note="" if run else "no source run in MLflow",
            )
        )
    gate = gate_config_for(model_name)
    return _build(columns, metrics, params, tags, problems, gate.metric, {gate.metric: gate.direction}, "versions")


def _chosen_versions(versions: Sequence[str], problems: list[str]) -> list[str]:
    wanted: list[str] = []
    for raw in versions:
        try:
            number = validation.model_version(raw)
        except InvalidInput as exc:
            problems.append(str(exc))
            continue
        if number not in wanted:
            wanted.append(number)
    return _within_limits(wanted, problems, "versions")


def _within_limits(keys: list[str], problems: list[str], what: str) -> list[str]:
    if len(keys) > MAX_COLUMNS:
        problems.insert(0, f"Compare at most {MAX_COLUMNS} at a time ({len(keys)} chosen).")
        return []
    if len(keys) < 2 and not problems:
        problems.append(f"Pick at least two {what} to compare.")
    return keys


# --- Runs -----------------------------------------------------------------------------------------
def compare_runs(
    *,
    run_ids: Sequence[str],
    metrics: Sequence[str] | None = None,
    params: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
) -> Comparison:
    """Runs of any experiments side by side (in the order given); like `compare_versions`, without a
    model (each metric's direction from the configuration or its name)."""
    problems: list[str] = []
    wanted: list[str] = []
    for raw in run_ids:
        if not RUN_ID.match(raw):
            problems.append(f"{raw[:40]!r} is not a run id.")
        elif raw not in wanted:
            wanted.append(raw)
    wanted = _within_limits(wanted, problems, "runs")
    runs = runs_by_id(wanted)
    columns: list[Column] = []
    seen: dict[str, int] = {}
    for run_id in wanted:
        run = runs.get(run_id)
        if run is None:
            problems.append(f"No run {run_id} in MLflow.")
            continue
        base = run.run_name or run_id[:8]
        seen[base] = seen.get(base, 0) + 1
        label = base if seen[base] == 1 else f"{base} ({seen[base]})"
        url = run_ui_url(run)
        columns.append(Column(key=run_id, label=label, url=url, run=run, run_url=url))
    return _build(columns, metrics, params, tags, problems, "", {}, "runs")


# --- Shared ---------------------------------------------------------------------------------------
def _build(
    columns: list[Column],
    metrics: Sequence[str] | None,
    params: Sequence[str] | None,
    tags: Sequence[str] | None,
    problems: list[str],
    gate_metric: str,
    directions: dict[str, str],
    what: str,
) -> Comparison:
    for index, column in enumerate(columns):
        column.css_class = f"series-{index % MAX_COLUMNS}"
    runs = [c.run for c in columns if c.run is not None]
    available = Choices(
        metrics=sorted({k for r in runs for k in r.metrics}, key=lambda k: (k != gate_metric, k)),
        params=sorted({k for r in runs for k in r.params}),
        tags=sorted({k for r in runs for k in r.tags}, key=lambda k: (k.startswith(SYSTEM_TAG_PREFIX), k)),
    )
    chosen = Choices(
        metrics=_pick(metrics, available.metrics),
        params=_pick(params, available.params),
        tags=_pick(tags, [t for t in available.tags if not t.startswith(SYSTEM_TAG_PREFIX)]),
    )
    if len(columns) < 2 and not problems:
        problems.append(f"Pick at least two {what} to compare.")
    rows = [_metric_row(key, columns, metric_direction(key, directions.get(key, ""))) for key in chosen.metrics]
    rows += [_text_row("param", k, [c.run.params.get(k) if c.run else None for c in columns]) for k in chosen.params]
    rows += [_text_row("tag", k, [c.run.tags.get(k) if c.run else None for c in columns]) for k in chosen.tags]
    charts = _charts(columns, chosen.metrics[:MAX_CHARTS], directions) if len(columns) >= 2 else []
    return Comparison(columns, rows, charts, available, chosen, problems, gate_metric)


def _pick(asked: Sequence[str] | None, default: list[str]) -> list[str]:
    """The rows asked for, in the default order first (so the gate metric stays first), then any asked
    key no compared run has (shown as a row of '–', so a typo is visible)."""
    if asked is None:
        return list(default)
    wanted = list(dict.fromkeys(k.strip() for k in asked if k.strip()))
    return [k for k in default if k in wanted] + [k for k in wanted if k not in default]


def _metric_row(key: str, columns: list[Column], direction: str) -> Row:
    values = [c.run.metrics.get(key) if c.run else None for c in columns]
    finite = [v for v in values if v is not None and math.isfinite(v)]
    best = (min(finite) if direction == LOWER else max(finite)) if len(finite) >= 2 else None
    cells = [Cell(format_value(v), v, best is not None and v == best) for v in values]
    return Row("metric", key, cells, direction)


def _text_row(kind: str, key: str, values: list[str | None]) -> Row:
    return Row(kind, key, [Cell(format_value(v), v) for v in values])


def _charts(columns: list[Column], metrics: list[str], directions: dict[str, str]) -> list[MetricChart]:
    """One chart per metric, the compared runs overlaid; the histories are read concurrently."""
    jobs = [(m, c, c.run.run_id) for m in metrics for c in columns if c.run is not None and m in c.run.metrics]
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=min(HISTORY_THREADS, len(jobs))) as pool:
        histories = list(pool.map(lambda job: mlf.get_metric_history(job[2], job[0]), jobs))
    by_metric: dict[str, list[tuple[Column, list[mlf.MetricPoint]]]] = {}
    for (metric, column, _), history in zip(jobs, histories, strict=True):
        by_metric.setdefault(metric, []).append((column, history))
    charts = []
    for metric in metrics:
        lines = by_metric.get(metric, [])
        if not any(len(h) > 1 for _, h in lines):
            continue  # one value per run (or none): the table says it all, a chart of dots would not
        direction = metric_direction(metric, directions.get(metric, ""))
        series = [(c.label, c.css_class, thin(h)) for c, h in lines]
        steps = [p.step for _, h in lines for p in h]
        charts.append(
            MetricChart(
                metric=metric,
                direction=direction,
                chart=line_chart(series, x_label="step", y_label=f"{metric} ({direction} is better)"),
                points=len(steps),
                last_step=max(steps, default=None),
            )
        )
    return charts


def thin(history: Sequence[mlf.MetricPoint], limit: int = MAX_CHART_POINTS) -> list[tuple[float, float]]:
    """(step, value) pairs to draw: all of a short history; of a long one the first and last points and
    each bucket's lowest and highest value (the line keeps its peaks). NaN/±inf are not drawn."""
    points = [(float(p.step), p.value) for p in history if math.isfinite(p.value)]
    if len(points) <= limit:
        return points
    buckets = max(1, (limit - 2) // 2)
    size = math.ceil((len(points) - 2) / buckets)
    kept = [points[0]]
    for start in range(1, len(points) - 1, size):
        bucket = points[start : min(start + size, len(points) - 1)]
        low, high = min(bucket, key=lambda p: p[1]), max(bucket, key=lambda p: p[1])
        kept.extend(sorted({low, high}))
    kept.append(points[-1])
    return kept
