"""The top bar's search: models, versions ("model v3", "model/3", "model version 3"), experiments and run ids
(32 hex characters), each result kept only when mlopsadmin/policy.py lets the user see it (VIEW on the
result's owning team).

Models come from the registry overview (the same listing the registry page reads), experiments from the
catalog index, a version or a run id is looked up in MLflow (one call each). Queries are trimmed to
MAX_QUERY characters; a NUL character is refused (InvalidInput, 400).
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


def search_models(user: Any, query: str) -> list[Result]:
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


def search_versions(user: Any, query: str) -> list[Result]:
    """'name v3' / 'name/3': that version of the model named so (any case), else of up to
    VERSION_CANDIDATES models whose names contain it."""
    match = VERSION.match(query)
    if not match:
        return []
    wanted, number = match.group("model").strip(), str(int(match.group("version")))
    rows = _models(user, wanted)
    exact = [r for r in rows if r.name.lower() == wanted.lower()]
    results = []
    for row in (exact or rows)[:VERSION_CANDIDATES]:
        try:
            version = mlf.get_model_version(row.name, number)
        except (mlf.MlflowNotFound, mlf.MlflowInvalid):
            continue
        aliases = ", ".join(f"@{a}" for a, v in [*row.aliases, *row.other_aliases] if str(v) == number)
        detail = " · ".join(
            part for part in (version.status, aliases, f"run {version.run_id}" * bool(version.run_id)) if part
        )
        results.append(Result(f"{row.name} v{number}", _model_url(row.name, number), detail))
    return results


def search_experiments(user: Any, query: str) -> list[Result]:
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


def search_runs(user: Any, query: str) -> list[Result]:
    """A run id: the run, in its experiment (the catalog's page when it is indexed, MLflow's otherwise)."""
    if not RUN_ID.match(query):
        return []
    from catalog.models import CatalogExperiment
    from catalog.selectors import experiment_teams

    try:
        run = mlf.get_run(query.lower())
        experiment = mlf.get_experiment(run.experiment_id)
    except (mlf.MlflowNotFound, mlf.MlflowInvalid):
        return []
    team = experiment_teams([(experiment.experiment_id, experiment.name)])[experiment.experiment_id]
    if not _visible(user, team):
        return []
    mlflow_url = f"{mlf.ui_url()}/#/experiments/{experiment.experiment_id}/runs/{run.run_id}"
    indexed = CatalogExperiment.objects.filter(experiment_id=experiment.experiment_id).exists()
    url = reverse("catalog:experiment", args=[experiment.experiment_id]) if indexed else mlflow_url
    detail = f"{run.status.lower()} · experiment {experiment.name}" + (
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
            found = find(user, query)
            if found:
                results.sections[kind] = found
    return results
