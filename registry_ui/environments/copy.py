"""The mechanics of copying one model version into another environment (issue 22): within one registry
`copy_model_version` (MLflow's advice, mlflow #10336); across servers the artifacts are downloaded from
the source to a temporary folder (MLflow's artifact HTTP API with each server's own credentials, streamed
to disk), uploaded into a run of the
target's PROMOTION_EXPERIMENT, registered there with the source's tags and description, and lineage tags
are written on both versions. A failure part-way removes what the copy created in the target (the version,
the model when the copy created it, the run) and reports what the target holds afterwards (read back)."""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlopsadmin.core.errors import Conflict
from mlopsadmin.lib.mlflow_environments import EnvironmentHandle
from mlopsadmin.lib.mlflow_errors import MlflowError
from registry_ui.approvals.selectors import APPROVAL_TAGS
from registry_ui.environments.config import Environment
from registry_ui.promotion.locking import LockBusy, model_lock

PROMOTION_EXPERIMENT = "/mlopsadmin/promotions"
COPY_ID_TAG = "mlopsadmin.copy_id"
FROM_TAGS = ("mlopsadmin.copied_from.environment", "mlopsadmin.copied_from.server", "mlopsadmin.copied_from.model")
FROM_VERSION_TAG, FROM_RUN_TAG = "mlopsadmin.copied_from.version", "mlopsadmin.copied_from.run"
TO_TAG_PREFIX = "mlopsadmin.copied_to."  # + target environment: "<model> v<version>"
# lineage of earlier copies is not carried on, nor the source environment's approval (an approval in dev
# does not approve prod: the target's own approval is written instead, see approvals.approval_tags_for_copy)
NOT_COPIED = ("mlopsadmin.copied_", "mlopsadmin.copy_id", *APPROVAL_TAGS)


class CopyFailed(Exception):
    """The copy stopped part-way. `step` says where; `cleanup` what was removed; `left_in_target` the
    versions tagged with this copy's id that the target still holds (read back; [] = clean)."""

    def __init__(
        self,
        message: str,
        *,
        step: str,
        cleanup: list[str],
        left_in_target: list[str],
        copy_id: str = "",
        run_id: str = "",
        created_model: bool = False,
    ) -> None:
        super().__init__(message)
        self.step, self.cleanup, self.left_in_target = step, cleanup, left_in_target
        self.copy_id, self.run_id, self.created_model = copy_id, run_id, created_model


@dataclass
class CopyResult:
    target_model: str
    target_version: str
    copy_id: str
    run_id: str = ""
    lineage: dict[str, str] = field(default_factory=dict)
    bytes: int = 0  # artifact bytes moved across servers (0 within one registry)


def lineage_tags(source: Environment, source_version: dict[str, Any], copy_id: str) -> dict[str, str]:
    """The tags a copied version carries about where it came from (no credentials in the server URI)."""
    return {
        COPY_ID_TAG: copy_id,
        FROM_TAGS[0]: source.name,
        FROM_TAGS[1]: source.display_uri,
        FROM_TAGS[2]: source_version["name"],
        FROM_VERSION_TAG: source_version["version"],
        FROM_RUN_TAG: source_version["run_id"],
    }


@contextmanager
def copy_lock(target: Environment, name: str, *, wait: float = 0) -> Iterator[None]:
    """One copy at a time into model `name` of `target` (a double click, two CI jobs): the model lock of
    the promotion feature (Redis, or a lease row) under a key of its own, waited for `wait` seconds (0: a
    copy in the request is refused at once; a worker's copy queues behind the one running), and renewed
    for as long as the copy runs: a copy longer than PROMOTION_LOCK_TTL_SECONDS still keeps a second one
    out. Raises Conflict when another copy holds it past `wait`."""
    key = "environment-copy:" + hashlib.sha256(f"{target.name}\0{name}".encode()).hexdigest()[:40]
    try:
        with model_lock(key, wait=wait, renew=True):
            yield
    except LockBusy as exc:
        raise Conflict(f"Another copy into {target.name}'s {name} is under way; nothing was changed.") from exc


def new_copy_id() -> str:
    """A new copy id (32 hex digits): the tag COPY_ID_TAG on what one copy writes in the target."""
    return uuid.uuid4().hex


def copies_in_target(
    source: Environment, target: Environment, base: str, version: str, *, failed: frozenset[str] = frozenset()
) -> list[str]:
    """Versions of `base` in `target` that are copies of `version` in `source` (their lineage tags), but
    not those left by a copy that failed (`failed`: their copy ids; see cleanup.py)."""
    found = target.handle().versions_where(
        {
            "name": target.model_name(base),
            f"tags.{FROM_TAGS[0]}": source.name,
            f"tags.{FROM_TAGS[2]}": source.model_name(base),
            f"tags.{FROM_VERSION_TAG}": str(version),
        }
    )
    return sorted((v["version"] for v in found if v["tags"].get(COPY_ID_TAG) not in failed), key=int)


def copy_version(
    source: Environment,
    target: Environment,
    base: str,
    version: str,
    *,
    extra_tags: dict[str, str] | None = None,
    copy_id: str = "",
) -> CopyResult:
    """Copy version `version` of model `base` from `source` to `target`; `extra_tags` are set on the new
    version too (the target's approval); `copy_id` (hex, new_copy_id; a new one when empty) tags what the
    copy writes, so a copy killed mid-way can be found in the target later (cleanup.py). Raises CopyFailed
    (target left clean or what is left listed) or MlflowError (nothing was created: the source could not be read)."""
    src, dst = source.handle(), target.handle()
    src_name, dst_name = source.model_name(base), target.model_name(base)
    original = src.model_version(src_name, version)
    copy_id = copy_id or new_copy_id()
    tags = {k: v for k, v in original["tags"].items() if not k.startswith(NOT_COPIED)}
    tags |= (extra_tags or {}) | lineage_tags(source, original, copy_id)
    created_model = False
    run_id, new_version, step, moved = "", "", "download", 0
    try:
        if src.tracking_uri == dst.tracking_uri:
            step = "copy_model_version"
            created_model = dst.ensure_model(dst_name, tags={COPY_ID_TAG: copy_id})
            new_version = dst.copy_version(original, dst_name, tags=tags)
        else:
            with tempfile.TemporaryDirectory(prefix="mlopsadmin-copy-") as tmp:
                # the run's figures travel too: the next environment's gate reads them on the copy's run
                metrics = src.run_metrics(original["run_id"]) if original["run_id"] else {}
                local, _ = src.download_version(src_name, version, Path(tmp) / "download")
                step = "upload"
                run_tags = {COPY_ID_TAG: copy_id, "mlopsadmin.copy_of": f"{source.name}:{src_name} v{version}"}
                run_id, sent = dst.upload_run(
                    PROMOTION_EXPERIMENT, local, run_name=f"copy {src_name} v{version}", tags=run_tags, metrics=metrics
                )
                moved = sent.bytes
            step = "register"
            created_model = dst.ensure_model(dst_name, tags={COPY_ID_TAG: copy_id})
            artifact_uri = dst.run_artifact_uri(run_id, "model")
            new_version = dst.create_version(
                dst_name, artifact_uri, run_id, description=original["description"], tags=tags
            )
        step = "lineage"
        src.set_version_tag(src_name, version, TO_TAG_PREFIX + target.name, f"{dst_name} v{new_version}")
    except MlflowError as exc:
        cleanup, left = clean_target(
            dst, dst_name, copy_id, [new_version] if new_version else [], created_model, run_id
        )
        raise CopyFailed(
            str(exc),
            step=step,
            cleanup=cleanup,
            left_in_target=left,
            copy_id=copy_id,
            run_id=run_id if not any(c == f"run {run_id}" for c in cleanup) else "",
            created_model=created_model and f"model {dst_name}" not in cleanup,
        ) from exc
    return CopyResult(dst_name, new_version, copy_id, run_id, tags, moved)


def _deleter(dst: EnvironmentHandle, name: str, version: str) -> Callable[[], None]:
    return lambda: dst.delete_version(name, version)


def clean_target(
    dst: EnvironmentHandle, name: str, copy_id: str, known: list[str], created_model: bool, run_id: str
) -> tuple[list[str], list[str]]:
    """Remove what a failed copy created in the target, best effort: every version tagged with this copy's
    id (a registration that timed out may have been committed) and `known`, the model when the copy
    created it, the run. Returns (what was removed, versions read back afterwards: [] = clean)."""
    removed: list[str] = []
    try:
        versions = sorted(set(known) | set(dst.versions_tagged(name, COPY_ID_TAG, copy_id)))
    except MlflowError:
        versions = known
    steps: list[tuple[str, Callable[[], None]]] = []
    for version in versions:
        steps.append((f"version {name} v{version}", _deleter(dst, name, version)))
    if created_model:
        steps.append((f"model {name}", lambda: dst.delete_model(name)))
    if run_id:
        steps.append((f"run {run_id}", lambda: dst.delete_run(run_id)))
    for label, undo in steps:
        try:
            undo()
            removed.append(label)
        except MlflowError:
            continue
    try:
        left = [v for v in versions if dst.version_exists(name, v)]
        left += [v for v in dst.versions_tagged(name, COPY_ID_TAG, copy_id) if v not in left]
    except MlflowError:
        left = ["unknown: the target could not be read back"]
    return removed, left
