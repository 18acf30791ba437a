"""Reading the registry index: what the registry pages and API show, as the gateway's plain records
(mlf.RegisteredModel, mlf.ModelVersion, mlf.Run), so templates do not care where the data came from.

A model the index does not hold yet (created since the last sync, or never synced) is read from MLflow on
first view (index_store.model_refresh); a registry never listed is listed on the first overview. Whatever
is indexed is served without MLflow, with the time it was read (`as_of`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, overload

from django.db.models import Min
from django.utils import timezone

from mlopsadmin.core.errors import NotFound
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import index_store
from registry_ui.models import IndexedModel, IndexedRun, IndexedVersion, RegistryIndexState


# --- Records from rows ---------------------------------------------------------------------------------
def model_record(row: IndexedModel) -> mlf.RegisteredModel:
    return mlf.RegisteredModel(
        name=row.name,
        description=row.description,
        creation_timestamp=row.creation_timestamp,
        last_updated_timestamp=row.last_updated_timestamp,
        tags=dict(row.tags or {}),
        aliases={str(a): str(v) for a, v in (row.aliases or {}).items()},
        latest_version=row.latest_version or None,
    )


def aliases_by_version(aliases: dict[str, str]) -> dict[str, list[str]]:
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(str(version), []).append(str(alias))
    return by_version


def version_record(row: IndexedVersion, model_name: str, by_version: dict[str, list[str]]) -> mlf.ModelVersion:
    number = str(row.number)
    return mlf.ModelVersion(
        name=model_name,
        version=number,
        run_id=row.run_id,
        source=row.source,
        status=row.status,
        current_stage=row.current_stage,
        creation_timestamp=row.creation_timestamp,
        last_updated_timestamp=row.last_updated_timestamp,
        description=row.description,
        tags=dict(row.tags or {}),
        aliases=sorted(by_version.get(number, [])),
    )


def _metric(value: Any) -> float:
    return float(value)  # numbers, or "NaN" / "Infinity" / "-Infinity" as stored


def run_record(row: IndexedRun) -> mlf.Run | None:
    """The run as last read; None when MLflow no longer had it (purged)."""
    if row.lifecycle_stage == index_store.MISSING:
        return None
    return mlf.Run(
        run_id=row.run_id,
        experiment_id=row.experiment_id,
        run_name=row.run_name,
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        lifecycle_stage=row.lifecycle_stage,
        artifact_uri=row.artifact_uri,
        tags=dict(row.tags or {}),
        params=dict(row.params or {}),
        metrics={k: _metric(v) for k, v in (row.metrics or {}).items()},
    )


# --- Lookups -------------------------------------------------------------------------------------------
def model_row(name: str) -> IndexedModel:
    """The model's row, read from MLflow now when the index does not hold it (or its versions) yet.
    Raises NotFound when MLflow has no such model; MlflowError when MLflow must be read and fails."""
    row = IndexedModel.objects.filter(name=name).first()
    if row is not None and row.versions_synced_at is not None:
        return row
    try:
        return index_store.model_refresh(name)
    except (mlf.MlflowNotFound, mlf.MlflowInvalid) as exc:
        raise NotFound(f"No registered model named {name!r} in MLflow.") from exc


def version_row(model: IndexedModel, number: int) -> tuple[IndexedModel, IndexedVersion]:
    """(the model's row, one indexed version); a version the index does not know sends the model to MLflow
    once (it may have been created since the last sync). Raises NotFound when MLflow has no such version."""
    found = IndexedVersion.objects.filter(model=model, number=number).first()
    if found is None:
        try:
            model = index_store.model_refresh(model.name)
        except mlf.MlflowNotFound:
            found = None
        else:
            found = IndexedVersion.objects.filter(model=model, number=number).first()
    if found is None:
        raise NotFound(f"Model version {model.name}/{number} does not exist in MLflow (unknown or deleted).")
    return model, found


def runs(run_ids: Iterable[str]) -> dict[str, mlf.Run]:
    """{run_id: run} of the indexed source runs among `run_ids` (missing ones left out): one query."""
    wanted = {r for r in run_ids if r}
    found: dict[str, mlf.Run] = {}
    for row in IndexedRun.objects.filter(run_id__in=wanted):
        record = run_record(row)
        if record is not None:
            found[row.run_id] = record
    return found


class Versions:
    """A model's indexed versions, newest first, as mlf.ModelVersion records. A Paginator slices it in the
    database (a page costs the same whatever the number of versions)."""

    def __init__(self, model: IndexedModel) -> None:
        self.model = model
        self.by_version = aliases_by_version(dict(model.aliases or {}))
        self.rows = IndexedVersion.objects.filter(model=model).order_by("-number")

    def count(self) -> int:
        return self.model.version_count if self.model.versions_synced_at else self.rows.count()

    def __len__(self) -> int:
        return self.count()

    @overload
    def __getitem__(self, index: int) -> mlf.ModelVersion: ...
    @overload
    def __getitem__(self, index: slice) -> list[mlf.ModelVersion]: ...
    def __getitem__(self, index: int | slice) -> mlf.ModelVersion | list[mlf.ModelVersion]:
        if isinstance(index, slice):
            return [version_record(r, self.model.name, self.by_version) for r in self.rows[index]]
        return version_record(self.rows[index], self.model.name, self.by_version)

    def __iter__(self) -> Iterator[mlf.ModelVersion]:
        for row in self.rows.iterator(chunk_size=500):
            yield version_record(row, self.model.name, self.by_version)

    def numbers(self) -> list[str]:
        """Every version number, newest first (cheap: no records built)."""
        return [str(n) for n in self.rows.values_list("number", flat=True)]


# --- The overview ----------------------------------------------------------------------------------------
def ensure_listed() -> None:
    """A registry never listed is listed from MLflow now (models only: versions are read when a model is
    first opened, or by the next sync); afterwards the index answers. Raises MlflowError when that first
    listing fails."""
    state, _ = RegistryIndexState.objects.get_or_create(pk=1)
    if state.models_listed_at is None:
        now = timezone.now()
        index_store.models_store({m.name: m for m in mlf.iter_registered_models()}, now)
        RegistryIndexState.objects.filter(pk=1).update(models_listed_at=now)


def models() -> list[mlf.RegisteredModel]:
    """Every indexed model (see ensure_listed for a registry never listed)."""
    ensure_listed()
    return [model_record(row) for row in IndexedModel.objects.all()]


def as_of(model: IndexedModel | None = None, run_rows: Iterable[IndexedRun] | None = None) -> datetime | None:
    """The moment from which everything a page shows was read from MLflow: never later than its oldest
    part, so a page does not claim fresher data than it has. Without `model` (the overview): the last
    complete listing or sync. With it, the oldest of: the model and its aliases (that listing, or later when
    the model was read again: webhook, mlopsadmin's own change, a first view); its versions with their tags
    (the last complete read of them: `versions_synced_at`); their source runs (`run_rows`, else all the
    model's: the last full sync re-read every run, else when each was read). An incremental sync reads
    neither version tags nor run metrics (MLflow moves no timestamp for them), so it does not advance those."""
    state = RegistryIndexState.objects.filter(pk=1).first()
    listed = [state.last_sync_started_at, state.models_listed_at] if state else []
    if model is not None:
        listed.append(model.synced_at)
    models_at = max((m for m in listed if m is not None), default=None)
    if model is None:
        return models_at
    if run_rows is None:
        used = IndexedVersion.objects.filter(model=model).values("run_id")
        oldest_run = IndexedRun.objects.filter(run_id__in=used).aggregate(oldest=Min("synced_at"))["oldest"]
    else:
        oldest_run = min((r.synced_at for r in run_rows if r.synced_at is not None), default=None)
    full_at = state.last_full_sync_at if state else None
    runs_at = max(full_at, oldest_run) if full_at and oldest_run else oldest_run
    parts = (models_at, model.versions_synced_at, runs_at)
    return min((p for p in parts if p is not None), default=None)


def _experiment(row: IndexedRun | None) -> mlf.Experiment | None:
    if row is None or not row.experiment_id:
        return None
    return mlf.Experiment(
        experiment_id=row.experiment_id,
        name=row.experiment_name,
        lifecycle_stage="active",
        artifact_location="",
        tags={},
        creation_time=None,
        last_update_time=None,
    )


@dataclass(frozen=True)
class VersionView:
    """Everything the version page shows of MLflow, read from the index in a few queries: the model, the
    version, the @champion version (when it is another one), both source runs, and when it was read."""

    model: mlf.RegisteredModel
    version: mlf.ModelVersion
    champion: mlf.ModelVersion | None
    as_of: datetime | None
    run_rows: dict[str, IndexedRun] = field(default_factory=dict)

    def run_of(self, version: mlf.ModelVersion | None) -> mlf.Run | None:
        row = self.run_rows.get(version.run_id) if version is not None else None
        return run_record(row) if row is not None else None

    def state_of(self, version: mlf.ModelVersion | None) -> tuple[str, dict[str, float], str, bool] | None:
        """(lifecycle stage — active, deleted, missing —, latest metrics, experiment id, whether that experiment
        is deleted or gone) of the version's source run; None when the version names no run."""
        if version is None or not version.run_id:
            return None
        row = self.run_rows.get(version.run_id)
        if row is None:
            return index_store.MISSING, {}, "", False
        metrics = {k: _metric(v) for k, v in (row.metrics or {}).items()}
        return row.lifecycle_stage, metrics, row.experiment_id, row.experiment_stage != "active"

    def experiment(self) -> mlf.Experiment | None:
        return _experiment(self.run_rows.get(self.version.run_id))


def _champion_number(model: IndexedModel) -> int | None:
    """The number of the version @champion names (None: no champion, or not a version number)."""
    champion = (model.aliases or {}).get("champion")
    return None if champion is None else index_store.version_number(str(champion))


def version_view(name: str, number: int) -> VersionView:
    """The version page's data (see VersionView). Raises NotFound when MLflow has no such model or version."""
    model = model_row(name)
    champion_number = _champion_number(model)
    # The version and the champion in one query; a version the index does not know goes to `version_row`.
    wanted = {number} if champion_number is None else {number, champion_number}
    versions = {r.number: r for r in IndexedVersion.objects.filter(model=model, number__in=wanted)}
    if number not in versions:
        model, row = version_row(model, number)
        champion_number = _champion_number(model)
        versions = {number: row}
        if champion_number is not None and champion_number != number:
            versions.update({r.number: r for r in IndexedVersion.objects.filter(model=model, number=champion_number)})
    by_version = aliases_by_version(dict(model.aliases or {}))
    version = version_record(versions[number], name, by_version)
    found = versions.get(champion_number) if champion_number is not None and champion_number != number else None
    champion = version_record(found, name, by_version) if found is not None else None
    run_ids = {v.run_id for v in (version, champion) if v is not None and v.run_id}
    rows = {r.run_id: r for r in IndexedRun.objects.filter(run_id__in=run_ids)} if run_ids else {}
    return VersionView(model_record(model), version, champion, as_of(model, rows.values()), rows)
