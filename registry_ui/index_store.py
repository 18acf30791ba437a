"""Writing the registry index (registry_ui.models IndexedModel / IndexedVersion / IndexedRun) from what
MLflow answers: a model listing, the versions of some models, their source runs; and the changes
mlopsadmin itself makes (aliases, version tags), applied at once. The sync (index_sync.py), the webhook
receiver and the pages (a model not indexed yet is read on first view) call these."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib import mlflow_filters
from registry_ui.index_runs import MISSING, runs_prune, runs_refresh  # noqa: F401  (index_read, index_sync use them here)
from registry_ui.models import IndexedModel, IndexedRun, IndexedVersion

logger = logging.getLogger(__name__)

NAMES_PER_CALL = 50  # models whose versions one search_model_versions call lists (name IN (...))


def version_number(version: str) -> int:
    return int(version) if str(version).isdigit() else 0


# --- Models ---------------------------------------------------------------------------------------------
def _model_fields(model: mlf.RegisteredModel, now: datetime) -> dict[str, object]:
    return {
        "description": model.description,
        "tags": dict(model.tags),
        "aliases": dict(sorted(model.aliases.items())),
        "latest_version": model.latest_version or "",
        "creation_timestamp": model.creation_timestamp,
        "last_updated_timestamp": model.last_updated_timestamp,
        "synced_at": now,
    }


def models_store(listing: dict[str, mlf.RegisteredModel], now: datetime) -> tuple[list[str], list[str], set[str]]:
    """Bring IndexedModel rows in step with a complete model listing read from `now` on (taken before the
    listing was asked for). Returns (new names, deleted names, names whose versions must be read: new,
    `last_updated_timestamp` moved — MLflow moves it when a version is created or deleted —, or never read).
    A row written after `now` (mlopsadmin's own change, a webhook, a first view) holds a fresher read than
    this listing: it is neither overwritten nor removed (`fresher`)."""
    creates, updates, stale = [], [], set()
    held = identity_checked(listing)
    with transaction.atomic():
        index = {row.name: row for row in IndexedModel.objects.select_for_update()}
        for name, model in listing.items():
            row = index.get(name)
            fields = _model_fields(model, now)
            if row is None:
                creates.append(IndexedModel(name=name, **fields))
                stale.add(name)
                continue
            if row.last_updated_timestamp != model.last_updated_timestamp or row.versions_synced_at is None:
                stale.add(name)
            if fresher(row.synced_at, now) or name in held:
                continue
            if any(getattr(row, key) != value for key, value in fields.items() if key != "synced_at"):
                for key, value in fields.items():
                    setattr(row, key, value)
                updates.append(row)  # unchanged rows keep their synced_at: the sync's own time covers them
        gone = sorted(n for n, row in index.items() if n not in listing and not fresher(row.synced_at, now))
        IndexedModel.objects.bulk_create(creates, batch_size=500, ignore_conflicts=True)
        IndexedModel.objects.bulk_update(updates, list(MODEL_FIELDS), batch_size=500)
        IndexedModel.objects.filter(name__in=gone).delete()
    return [m.name for m in creates], gone, stale


def identity_checked(listing: dict[str, mlf.RegisteredModel]) -> set[str]:
    """Models whose creation time in MLflow differs from the indexed one were deleted and created again:
    each goes through promotion.identity under its lock (the deleted model's approvals voided, recorded
    once) before its row takes the new time. Returns the names whose lock was held (a change of that model
    is under way and checks it itself): their rows are left for the next read."""
    from registry_ui.promotion import identity, locking

    indexed = dict(IndexedModel.objects.filter(name__in=list(listing)).values_list("name", "creation_timestamp"))
    held = set()
    for name, model in listing.items():
        before, after = indexed.get(name), model.creation_timestamp
        if before is None or after is None or before == after:
            continue
        try:
            with locking.model_lock(name, wait=IDENTITY_LOCK_WAIT):
                identity.model_identity(name, after)
        except (locking.LockBusy, locking.LockUnavailable):
            held.add(name)
    return held


IDENTITY_LOCK_WAIT = 2.0  # seconds a sync waits for a re-created model's lock before leaving it for later


def fresher(written_at: datetime | None, read_at: datetime) -> bool:
    """True when a row was written after `read_at` (the moment a read of MLflow began): what it holds was
    read later than that read's answer, which must not overwrite or remove it."""
    return written_at is not None and written_at > read_at


MODEL_FIELDS = (
    "description",
    "tags",
    "aliases",
    "latest_version",
    "creation_timestamp",
    "last_updated_timestamp",
    "synced_at",
)


def model_store(model: mlf.RegisteredModel, now: datetime | None = None) -> IndexedModel:
    """Insert or update one model's row from MLflow's answer, read from `now` on (default: now); a row
    written after `now` (a fresher read) is left as it is."""
    now = now or timezone.now()
    fields = _model_fields(model, now)
    if identity_checked({model.name: model}):
        held = IndexedModel.objects.filter(name=model.name).first()
        if held is not None:
            return held  # a change of the model is under way: left as it is
        # removed meanwhile (a sync found the model gone): written below like any first read
    with transaction.atomic():
        row = IndexedModel.objects.select_for_update().filter(name=model.name).first()
        if row is None:
            return IndexedModel.objects.create(name=model.name, **fields)
        if not fresher(row.synced_at, now):
            for key, value in fields.items():
                setattr(row, key, value)
            row.save(update_fields=list(MODEL_FIELDS))
    return row


# --- Versions -------------------------------------------------------------------------------------------
def _versions_of(names: list[str], *, everything: bool = False) -> dict[str, list[mlf.ModelVersion]]:
    """Every version of these models, {name: versions}, in few calls: one listing of all versions when
    `everything` (a full sync), else name IN lists (a name no MLflow literal can hold is listed alone,
    matched exactly)."""
    found: dict[str, list[mlf.ModelVersion]] = {name: [] for name in names}
    if everything:
        for version in mlf.iter_model_versions():
            if version.name in found:
                found[version.name].append(version)
        return found
    listable = [n for n in names if mlflow_filters.listable(n)]
    for start in range(0, len(listable), NAMES_PER_CALL):
        chunk = listable[start : start + NAMES_PER_CALL]
        for version in mlf.iter_model_versions(filter_string=mlflow_filters.in_list("name", chunk)):
            if version.name in found:
                found[version.name].append(version)
    for name in (n for n in names if not mlflow_filters.listable(n)):
        found[name] = list(mlf.iter_model_versions(name=name))
    return found


def source_run_id(version: mlf.ModelVersion) -> str:
    """The version's source run: its run_id, a `runs:/<id>/…` source, or a logged model's source run."""
    from registry_ui.selectors import run_id_from

    run_id = run_id_from(version.run_id, version.source)
    if not run_id and version.source.startswith("models:/m-"):
        run_id = mlf.logged_model_source_run(version.source[len("models:/") :].split("/", 1)[0]) or ""
    return run_id


def _version_fields(version: mlf.ModelVersion, run_id: str, now: datetime) -> dict[str, object]:
    return {
        "run_id": run_id[:64],
        "source": version.source,
        "status": version.status[:32],
        "current_stage": version.current_stage[:32],
        "description": version.description,
        "tags": dict(version.tags),
        "creation_timestamp": version.creation_timestamp,
        "last_updated_timestamp": version.last_updated_timestamp,
        "synced_at": now,
    }


VERSION_FIELDS = (
    "run_id",
    "source",
    "status",
    "current_stage",
    "description",
    "tags",
    "creation_timestamp",
    "last_updated_timestamp",
    "synced_at",
)


def versions_store(listed: dict[str, list[mlf.ModelVersion]], *, complete: bool, read_at: datetime) -> dict[str, int]:
    """Apply version records read from MLflow from `read_at` on (taken before they were asked for), {model
    name: versions}. `complete`: they are all the versions of these models (the ones the index holds beyond
    them are deleted, the models marked as read at `read_at`); else only these versions are added or updated
    (the "updated since" scan). Only rows that changed are written; a row written after `read_at` (a tag
    mlopsadmin wrote, a fresher read) is neither overwritten nor removed. Returns counts {versions, changed,
    deleted} and the source run ids named (`run_ids`, in `self`)."""
    # Source runs resolved before the rows are locked (a logged model's source run is an MLflow call).
    prior = {
        (name, number): (source, run_id)
        for name, number, source, run_id in IndexedVersion.objects.filter(model__name__in=list(listed)).values_list(
            "model__name", "number", "source", "run_id"
        )
    }
    resolved: dict[tuple[str, int], str] = {}
    for name, versions in listed.items():
        for version in versions:
            key = (name, version_number(version.version))
            known_source = prior.get(key)
            same = known_source is not None and known_source[0] == version.source
            resolved[key] = known_source[1] if same else source_run_id(version)  # type: ignore[index]
    with transaction.atomic():
        return _versions_write(listed, resolved, complete=complete, now=read_at)


def _versions_write(
    listed: dict[str, list[mlf.ModelVersion]], resolved: dict[tuple[str, int], str], *, complete: bool, now: datetime
) -> dict[str, int]:
    rows = {m.name: m for m in IndexedModel.objects.select_for_update().filter(name__in=list(listed))}
    known = {
        (v.model_id, v.number): v
        for v in IndexedVersion.objects.select_for_update().filter(model__in=list(rows.values()))
    }
    creates, updates, keep, run_ids = [], [], set(), set()
    for name, versions in listed.items():
        model = rows.get(name)
        if model is None:
            continue
        for version in versions:
            number = version_number(version.version)
            row = known.get((model.pk, number))
            run_id = resolved[(name, number)]
            run_ids.add(run_id)
            fields = _version_fields(version, run_id, now)
            keep.add((model.pk, number))
            if row is None:
                creates.append(IndexedVersion(model=model, number=number, **fields))
            elif fresher(row.synced_at, now):
                continue
            elif any(getattr(row, k) != v for k, v in fields.items() if k != "synced_at"):
                for key, value in fields.items():
                    setattr(row, key, value)
                updates.append(row)
    left = [row for key, row in known.items() if key not in keep] if complete else []
    gone = [row.pk for row in left if not fresher(row.synced_at, now)]
    extra = Counter(row.model_id for row in left if fresher(row.synced_at, now))  # added after the read
    IndexedVersion.objects.bulk_create(creates, batch_size=500, ignore_conflicts=True)
    IndexedVersion.objects.bulk_update(updates, list(VERSION_FIELDS), batch_size=500)
    IndexedVersion.objects.filter(pk__in=gone).delete()
    if complete:
        for name, model in rows.items():
            model.versions_synced_at = max(now, model.versions_synced_at or now)
            model.version_count = len(listed.get(name, [])) + extra[model.pk]
        IndexedModel.objects.bulk_update(list(rows.values()), ["versions_synced_at", "version_count"], 500)
    run_ids.discard("")
    return {
        "versions": sum(len(v) for v in listed.values()),
        "changed": len(creates) + len(updates),
        "deleted": len(gone),
        "run_ids": run_ids,  # type: ignore[dict-item]
    }


def versions_refresh(names: Iterable[str], *, full: bool = False) -> dict[str, int]:
    """Read every version of these models from MLflow and make the index hold exactly them (new ones
    added, changed ones updated, deleted ones removed), then the source runs not indexed yet. `full`
    (a full sync, `names` being every model): one listing of all versions, and every source run read
    again (deleted or changed runs). Returns counts {versions, changed, deleted, runs}."""
    names = sorted(set(names))
    if not names:
        return {"versions": 0, "changed": 0, "deleted": 0, "runs": 0}
    read_at = timezone.now()
    counts = versions_store(_versions_of(names, everything=full), complete=True, read_at=read_at)
    counts["runs"] = runs_read(counts.pop("run_ids"), again=full)  # type: ignore[arg-type]
    return counts


def runs_read(run_ids: set[str], *, again: bool = False) -> int:
    """Read the source runs the index does not hold yet (all of them with `again`)."""
    if not again:
        run_ids = run_ids - set(IndexedRun.objects.filter(run_id__in=run_ids).values_list("run_id", flat=True))
    return runs_refresh(sorted(run_ids))


# --- One model, read now (first view, webhook) -----------------------------------------------------------
def model_refresh(name: str) -> IndexedModel:
    """Read one model, its versions and their new source runs from MLflow into the index now. Raises
    MlflowNotFound (after removing it from the index) when MLflow has no such model."""
    read_at = timezone.now()
    try:
        model = mlf.get_registered_model(name)
    except mlf.MlflowNotFound:
        IndexedModel.objects.filter(name=name).delete()
        raise
    row = model_store(model, read_at)
    versions_refresh([name])
    row.refresh_from_db()
    return row


def index_refresh_after_webhook(name: str) -> None:
    """An MLflow webhook said this model changed: read it again (a deleted model leaves the index). When
    MLflow cannot be read now, the next registry sync brings the change."""
    try:
        model_refresh(name)
    except mlf.MlflowNotFound:
        logger.info("webhook: model %r no longer exists; removed from the registry index", name)
    except mlf.MlflowError as exc:
        logger.warning("webhook: model %r not read into the registry index now (%s); the next sync reads it", name, exc)


# --- mlopsadmin's own changes, applied at once -----------------------------------------------------------
def aliases_record(model_name: str, aliases: dict[str, str]) -> None:
    """The model's aliases as MLflow showed them just now (read back after a change, or reconciled)."""
    IndexedModel.objects.filter(name=model_name).update(
        aliases={str(k): str(v) for k, v in sorted(aliases.items())}, synced_at=timezone.now()
    )


def version_tags_record(
    model_name: str, version: str, changes: dict[str, str | None], *, replace: bool = False
) -> None:
    """Version tags mlopsadmin wrote (value None: deleted), applied to the indexed version; with `replace`,
    `changes` is the version's whole tag set as MLflow showed it (read back)."""
    with transaction.atomic():
        row = (
            IndexedVersion.objects.select_for_update()
            .filter(model__name=model_name, number=version_number(version))
            .first()
        )
        if row is None:
            return
        tags = {} if replace else dict(row.tags or {})
        for key, value in changes.items():
            if value is None:
                tags.pop(key, None)
            else:
                tags[key] = value
        row.tags, row.synced_at = tags, timezone.now()
        row.save(update_fields=["tags", "synced_at"])
