"""The top bar's search: models, versions ("model v3", "model/3", "model version 3"), experiments and run ids
(32 hex characters), each result kept only when mlopsadmin/policy.py lets the user see it (VIEW on the
result's owning team).

Models come from the registry overview (the same listing the registry page reads), experiments from the
catalog index, versions and model versions' source runs from the registry index; a version the index does not
hold yet, or any other run id, is looked up in MLflow (one call each). When MLflow does not answer, the page
still shows what the indexes found and says what could not be looked up (SearchResults.notes), never a 503.
Queries are trimmed to MAX_QUERY characters; a NUL character is refused (InvalidInput, 400).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.db.models import Q
from django.urls import reverse

from mlopsadmin import policy
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.core.models import Team
from mlopsadmin.lib import mlflow_client as mlf

MAX_QUERY = 200
LIMIT = 20  # results per kind
VERSION_CANDIDATES = 5  # models a "name vN" query looks the version up in
RUN_ID = re.compile(r"^[0-9a-f]{32}$", re.IGNORECASE)
VERSION = re.compile(r"^(?P<model>\S.*?)(?:\s*/\s*|\s+v(?:ersion)?\s*)(?P<version>\d{1,9})$", re.IGNORECASE)


@dataclass(frozen=True)
class Result:
    title: str
    url: str
    detail: str = ""
    mlflow_url: str = ""


@dataclass
class SearchResults:
    query: str
    sections: dict[str, list[Result]] = field(default_factory=dict)  # kind → results (models, versions …)
    notes: list[str] = field(default_factory=list)  # what could not be looked up (MLflow not answering)

    @property
    def empty(self) -> bool:
        return not any(self.sections.values())


def clean_query(value: Any) -> str:
    """The query as searched: trimmed, at most MAX_QUERY characters. Raises InvalidInput for NUL."""
    text = str(value or "")
    if "\x00" in text:
        raise InvalidInput("The search text cannot contain NUL characters.")
    return text.strip()[:MAX_QUERY]


def _visible(user: Any, team: Team | None) -> bool:
    return policy.can(user, policy.Action.VIEW, team=team)


def _models(user: Any, query: str) -> list[Any]:
    from registry_ui.selectors import registry_overview

    return [row for row in registry_overview(query=query) if _visible(user, row.team)]


def _model_url(name: str, version: str | None = None) -> str:
    url = reverse("registry:model", args=[name])
    return url + f"versions/{quote(str(version), safe='')}/" if version else url


def search_models(user: Any, query: str, notes: list[str] | None = None) -> list[Result]:
    """Models from the registry index (never MLflow: `notes` is not written)."""
    rows = sorted(_models(user, query), key=lambda r: (r.name.lower() != query.lower(), r.name.lower()))
    return [
        Result(
            r.name,
            _model_url(r.name),
            " · ".join(
                [f"team {r.team}" if r.team else "no team"]
                + [f"latest v{r.model.latest_version}"] * bool(r.model.latest_version)
                + [f"@{alias} v{version}" for alias, version in r.aliases]
            ),
        )
        for r in rows[:LIMIT]
    ]


def search_versions(user: Any, query: str, notes: list[str] | None = None) -> list[Result]:
    """'name v3' / 'name/3': that version of the model named so (any case), else of up to
    VERSION_CANDIDATES models whose names contain it. The registry index answers; MLflow is asked only for a
    version the index does not hold (created since the last sync), and its silence goes to `notes`."""
    from registry_ui.models import IndexedVersion

    match = VERSION.match(query)
    if not match:
        return []
    wanted, number = match.group("model").strip(), str(int(match.group("version")))
    rows = _models(user, wanted)
    exact = [r for r in rows if r.name.lower() == wanted.lower()]
    candidates = (exact or rows)[:VERSION_CANDIDATES]
    indexed = {
        v.model.name: (v.status, v.run_id)
        for v in IndexedVersion.objects.filter(model__name__in=[r.name for r in candidates], number=int(number))
        .select_related("model")
        .only("status", "run_id", "model__name")
    }
    results = []
    for row in candidates:
        if row.name in indexed:
            status, run_id = indexed[row.name]
        else:
            try:
                version = mlf.get_model_version(row.name, number)
            except (mlf.MlflowNotFound, mlf.MlflowInvalid):
                continue
            except mlf.MlflowError as exc:
                _unanswered(notes, exc, "model versions created since the last registry sync")
                continue
            status, run_id = version.status, version.run_id
        aliases = ", ".join(f"@{a}" for a, v in [*row.aliases, *row.other_aliases] if str(v) == number)
        detail = " · ".join(part for part in (status, aliases, f"run {run_id}" * bool(run_id)) if part)
        results.append(Result(f"{row.name} v{number}", _model_url(row.name, number), detail))
    return results


def _unanswered(notes: list[str] | None, exc: Exception, what: str) -> None:
    if notes is None:
        raise exc
    note = f"MLflow at {mlf.display_uri(mlf.tracking_uri())} is not answering: {what} could not be looked up."
    if note not in notes:
        notes.append(note)


def search_experiments(user: Any, query: str, notes: list[str] | None = None) -> list[Result]:
    """Experiments from the catalog index (never MLflow: `notes` is not written)."""
    from catalog.models import CatalogExperiment

    rows = (
        CatalogExperiment.objects.filter(Q(name__icontains=query) | Q(experiment_id=query))
        .exclude(lifecycle_stage="gone")
        .select_related("team")
        .order_by("lifecycle_stage", "name")
    )
    results = []
    for row in rows[: LIMIT * 3]:
        if not _visible(user, row.team):
            continue
        state = "" if row.lifecycle_stage == "active" else f" · {row.lifecycle_stage}"
        detail = f"id {row.experiment_id} · team {row.team_key or '–'} · {row.run_count} runs{state}"
        results.append(Result(row.name, reverse("catalog:experiment", args=[row.experiment_id]), detail))
        if len(results) == LIMIT:
            break
    return results


def search_runs(user: Any, query: str, notes: list[str] | None = None) -> list[Result]:
    """A run id: the run, in its experiment (the catalog's page when it is indexed, MLflow's otherwise). A model
    version's source run is read from the registry index; any other run from MLflow (its silence: `notes`)."""
    if not RUN_ID.match(query):
        return []
    from catalog.models import CatalogExperiment
    from catalog.selectors import experiment_teams
    from registry_ui.index_read import run_record
    from registry_ui.models import IndexedRun

    row = IndexedRun.objects.filter(run_id=query.lower()).first()
    run = run_record(row) if row is not None else None
    if row is not None and run is not None:
        experiment_id, experiment_name = row.experiment_id, row.experiment_name
    else:
        try:
            run = mlf.get_run(query.lower())
            experiment = mlf.get_experiment(run.experiment_id)
        except (mlf.MlflowNotFound, mlf.MlflowInvalid):
            return []
        except mlf.MlflowError as exc:
            _unanswered(notes, exc, "run ids other than model versions' source runs")
            return []
        experiment_id, experiment_name = experiment.experiment_id, experiment.name
    team = experiment_teams([(experiment_id, experiment_name)])[experiment_id]
    if not _visible(user, team):
        return []
    mlflow_url = f"{mlf.ui_url()}/#/experiments/{experiment_id}/runs/{run.run_id}"
    indexed = CatalogExperiment.objects.filter(experiment_id=experiment_id).exists()
    url = reverse("catalog:experiment", args=[experiment_id]) if indexed else mlflow_url
    detail = f"{run.status.lower()} · experiment {experiment_name}" + (
        " · deleted" if run.lifecycle_stage == "deleted" else ""
    )
    return [Result(run.run_name or run.run_id, url + ("#runs" if indexed else ""), detail, mlflow_url)]


SECTIONS = (
    ("versions", "Model versions", search_versions),
    ("models", "Models", search_models),
    ("experiments", "Experiments", search_experiments),
    ("runs", "Runs", search_runs),
)


def search(user: Any, query: str) -> SearchResults:
    """Every kind of result for `query` (as clean_query returns it) that `user` may see."""
    results = SearchResults(query)
    if query:
        for kind, _, find in SECTIONS:
            found = find(user, query, results.notes)
            if found:
                results.sections[kind] = found
    return results
