"""Which runs a cleanup never deletes: the one place for that rule (planning and execution both ask it).

A run is protected when it
- is still RUNNING: stuck or alive by the reaper's rule (maintenance.reaper.is_stuck), said in the reason;
  stuck runs are the reaper's job, never the cleanup's;
- is tagged `keep` (key in any case) with any truthy spelling (KEEP_TRUE: true, yes, y, 1, on, keep — plus configuration
  [cleanup] keep_values), compared trimmed and case-insensitively; a value that is neither clearly true nor
  clearly false (KEEP_FALSE, or empty) also protects, with the reason "keep=<value>: not understood, kept";
- is tagged `mlflow.registeredModelName` (MLflow sets it when a run logs a model with a registered name);
- is the source of any registered model version, whatever its tags: the version's `run_id`, a
  `runs:/<run_id>/…` source, a path or URI under the run's artifact location (file path, file://, s3://,
  mlflow-artifacts:/…; registered by path with an empty run_id), the source run of a `models:/m-…` logged
  model (or of a path under it), or — for a version copied from another (`models:/<name>/<version>` or
  `@alias`) — whatever protects the origin version, and the run under whose artifacts MLflow stored the
  copy when it was created (its storage location), which still holds the copy's files after the origin
  version is deleted or the alias moves.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from configuration.selectors import keep_values
from maintenance.reaper import readable_backend_store, running_reason, stuck_cutoff_ms
from mlopsadmin.lib import mlflow_client as mlf

KEEP_TAG = "keep"
REGISTERED_MODEL_TAG = "mlflow.registeredModelName"
KEEP_TRUE = frozenset({"true", "yes", "y", "1", "on", "keep"})  # documented in docs/maintenance.md
KEEP_FALSE = frozenset({"false", "no", "n", "0", "off", "none"})
# The only tags planning reads on the backend-store fast path: these two by key, plus every other spelling of
# the `keep` key (any case, spaces around it: read for the few runs that have one, mlflow_store's folded_key).
PROTECTING_TAGS = (KEEP_TAG, REGISTERED_MODEL_TAG)
VERSION_SOURCE_REASON = "source of a registered model version"


_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")
MAX_COPY_DEPTH = 10  # models:/<name>/<version> chains followed at most this deep


def protected_run_ids(*, store_uri: str = "") -> set[str]:
    """Ids of every run that backs a registered model version (see the module docstring). With
    `store_uri` the registry is read from the backend store (read-only), else through REST; runs and
    copied versions named by a source are looked up through REST either way.
    Raises mlf.MlflowError (BackendStoreError when the store read fails part-way)."""
    run_ids: set[str] = set()
    model_ids: set[str] = set()
    for run_id, source, storage in mlf.model_version_sources(store_uri=store_uri):
        _version_runs(run_id, source, storage, run_ids, model_ids)
    resolved = mlf.logged_model_source_runs(sorted(model_ids), store_uri=store_uri)
    run_ids.update(run_id for run_id in resolved.values() if run_id)
    run_ids.discard("")
    return run_ids


def _version_runs(
    run_id: str | None, source: str | None, storage: str | None, run_ids: set[str], model_ids: set[str]
) -> None:
    if run_id:
        run_ids.add(run_id)
    _source_runs(source or "", run_ids, model_ids, depth=0)
    if storage and storage != source:  # a copy's files stay under the origin's run, origin deleted or not
        _source_runs(storage, run_ids, model_ids, depth=0)


class LiveProtection:
    """protected_run_ids() kept current during a long cleanup execute (25,000 runs take most of an hour):
    before each re-check, the versions created or changed since the last look are read (newest first,
    stopping at the last look's watermark: usually one small page) and whatever they protect, in any source
    form, is added. Before, a version registered by path (empty run_id) while an execute ran did not protect
    its run: the re-check only asked MLflow for versions naming the run_id."""

    PAGE = 50

    def __init__(self) -> None:
        newest = next(iter(mlf.iter_model_versions(order_by=self._ORDER, page_size=1)), None)
        self._watermark = (newest.last_updated_timestamp or 0) if newest else 0  # taken before the full read
        self.run_ids = protected_run_ids()

    _ORDER = ["last_updated_timestamp DESC"]

    def current(self) -> set[str]:
        """The protected run ids now (one tracking-API call when no version changed). Raises mlf.MlflowError."""
        newest, model_ids = self._watermark, set[str]()
        for version in mlf.iter_model_versions(order_by=self._ORDER, page_size=self.PAGE):
            stamp = version.last_updated_timestamp or 0
            if stamp < self._watermark:
                break
            newest = max(newest, stamp)
            copied = version.source.startswith("models:/") and not version.source[8:].lstrip("/").startswith("m-")
            storage = mlf.get_model_version_download_uri(version.name, version.version) if copied else None
            _version_runs(version.run_id, version.source, storage, self.run_ids, model_ids)
        if model_ids:
            resolved = mlf.logged_model_source_runs(sorted(model_ids))
            self.run_ids.update(run_id for run_id in resolved.values() if run_id)
        self._watermark = newest
        self.run_ids.discard("")
        return self.run_ids


def _source_runs(source: str, run_ids: set[str], model_ids: set[str], *, depth: int) -> None:
    """Add the run (or logged model) a version source names: `runs:/<id>/…`, `models:/m-<id>`,
    `models:/<name>/<version>` or `models:/<name>@<alias>` (followed to the origin version), or a path/URI
    under a run's artifact location (file path, file://, s3://, mlflow-artifacts:, …)."""
    if source.startswith("runs:/"):
        run_ids.add(source[len("runs:/") :].lstrip("/").split("/", 1)[0])
        return
    if source.startswith("models:/"):
        ref = source[len("models:/") :].lstrip("/")
        head = ref.split("/", 1)[0]
        if _MODEL_ID.match(head):
            model_ids.add(head)
        elif depth < MAX_COPY_DEPTH:
            _copied_from(ref, run_ids, model_ids, depth=depth)
        return
    segments = [part for part in urlsplit(source).path.split("/") if part]
    model_ids.update(part for part in segments if _MODEL_ID.match(part))
    for candidate in {part for part in segments if _RUN_ID.match(part)}:
        try:
            run = mlf.get_run(candidate)
        except mlf.MlflowNotFound:
            continue
        if _under(source, run.artifact_uri) or f"/{candidate}/artifacts" in source:
            run_ids.add(candidate)


def _copied_from(ref: str, run_ids: set[str], model_ids: set[str], *, depth: int) -> None:
    name, _, version = ref.rstrip("/").rpartition("/")
    try:
        if "@" in ref and not version.isdigit():
            name, _, alias = ref.rstrip("/").partition("@")
            origin = mlf.get_model_version_by_alias(name, alias)
        else:
            origin = mlf.get_model_version(name, version) if name and version.isdigit() else None
    except (mlf.MlflowNotFound, mlf.MlflowInvalid):
        return
    if origin is None:
        return
    if origin.run_id:
        run_ids.add(origin.run_id)
    _source_runs(origin.source or "", run_ids, model_ids, depth=depth + 1)


def _comparable(uri: str) -> str:
    """A location without the parts that differ between spellings of it: file:// and the
    mlflow-artifacts server name are dropped, trailing slashes too."""
    parts = urlsplit(uri.strip())
    if parts.scheme in ("", "file", "mlflow-artifacts"):
        return (parts.scheme == "mlflow-artifacts" and "mlflow-artifacts:" or "") + parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _under(source: str, artifact_uri: str) -> bool:
    if not artifact_uri:
        return False
    inner, outer = _comparable(source), _comparable(artifact_uri)
    return inner == outer or inner.startswith(outer + "/")


def exclusion_reason(run: mlf.Run, protected: set[str], *, stuck_before_ms: int | None = None) -> str:
    """Why `run` must be kept ('' when it may be deleted). `protected`: from protected_run_ids();
    `stuck_before_ms`: the reaper's cutoff for a RUNNING run's last sign of life (default: now minus
    MAINTENANCE_REAPER_THRESHOLD_HOURS; a plan passes one cutoff for all its runs)."""
    if run.status == "RUNNING":
        return running_reason(run, stuck_cutoff_ms() if stuck_before_ms is None else stuck_before_ms)[:256]
    for key, value in run.tags.items():
        keep = keep_tag_reason(value) if key.strip().lower() == KEEP_TAG else ""
        if keep:
            return keep
    if run.tags.get(REGISTERED_MODEL_TAG):
        return f"tagged {REGISTERED_MODEL_TAG}={run.tags[REGISTERED_MODEL_TAG]}"[:256]
    if run.run_id in protected:
        return VERSION_SOURCE_REASON
    return ""


def keep_tag_reason(value: str | None) -> str:
    """Why a `keep` tag value protects its run ('' when it does not): any truthy spelling (KEEP_TRUE or
    configured keep_values, trimmed, case-insensitive) -> "tagged keep=<value>"; absent, empty or clearly
    false (KEEP_FALSE) -> ''; anything else -> "keep=<value>: not understood, kept" (shown in the plan)."""
    keep = (value or "").strip().lower()
    if not keep or keep in KEEP_FALSE:
        return ""
    if keep in KEEP_TRUE or keep in keep_values():
        return f"tagged {KEEP_TAG}={keep}"[:256]
    return f"{KEEP_TAG}={(value or '').strip()}: not understood, kept"[:256]


def cleanup_exclusions(runs: list[mlf.Run]) -> dict[str, str]:
    """run id → why a cleanup keeps the run ('' when nothing protects it), by exclusion_reason with one
    reaper cutoff, for pages that show runs (the catalog drill-down). The registry is read once, from the
    backend store when it is readable, else (or when that read fails) through the tracking API.
    Raises mlf.MlflowError."""
    if not runs:
        return {}
    try:
        protected = protected_run_ids(store_uri=readable_backend_store())
    except mlf.BackendStoreError:
        protected = protected_run_ids()
    stuck_before = stuck_cutoff_ms()
    return {run.run_id: exclusion_reason(run, protected, stuck_before_ms=stuck_before) for run in runs}


def reason_group(reason: str) -> str:
    """The kind of an exclusion reason, for counting them ("tagged keep", "still RUNNING: stuck", ...):
    its text before any value, date or detail."""
    return reason.split("=")[0].split(",")[0].strip()
