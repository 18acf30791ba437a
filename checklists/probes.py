"""Automated checks: each probe looks at the live system and answers pass/fail/warn/unknown with
evidence a person can verify. Probes never raise: an unreachable server is "unknown" with the reason."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from checklists import sources
from checklists.models import FAIL, PASS, UNKNOWN, WARN, LatencySample
from maintenance import reaper
from maintenance.task_runs import fmt_ms
from mlopsadmin.core.formatting import capped_lines, human_bytes
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib.uris import without_credentials

NO_RESULTS = "no maintenance results yet"
EVIDENCE_LINES = 25  # items named in a probe's evidence; the head line gives the total ("showing N of M")
OBJECT_STORE_SCHEMES = ("s3", "s3a", "gs", "wasbs", "wasb", "abfss", "oss")
SQL_SERVERS = ("postgresql", "postgres", "mysql", "mariadb")


@dataclass(frozen=True)
class ProbeResult:
    status: str
    evidence: str
    measured_at: datetime = field(default_factory=timezone.now)


def _scheme(uri: str) -> str:
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    return scheme.split("+", 1)[0]


# --- Store and server configuration ----------------------------------------------------------
def backend_store() -> ProbeResult:
    uri = settings.MLFLOW_BACKEND_STORE_URI
    if not uri:
        return ProbeResult(UNKNOWN, "MLFLOW_BACKEND_STORE_URI is not set: mlopsadmin cannot see the backend store.")
    scheme = _scheme(uri)
    shown = without_credentials(uri)
    if scheme in SQL_SERVERS:
        return ProbeResult(PASS, f"Backend store is {scheme} ({shown}).")
    if scheme == "sqlite":
        return ProbeResult(FAIL, f"Backend store is SQLite ({shown}), not PostgreSQL/MySQL.")
    if scheme in ("", "file") or uri.startswith(("/", ".")):
        return ProbeResult(FAIL, f"Backend store is a file store ({shown}), not PostgreSQL/MySQL.")
    return ProbeResult(WARN, f"Backend store scheme '{scheme}' is not PostgreSQL/MySQL ({shown}).")


def _artifact_verdict(location: str) -> str:
    scheme = _scheme(location)
    if scheme in OBJECT_STORE_SCHEMES:
        return PASS
    if scheme == "mlflow-artifacts":
        destination = settings.MLFLOW_ARTIFACTS_DESTINATION
        if not destination:
            return WARN
        return _artifact_verdict(destination)
    return FAIL


def artifact_store() -> ProbeResult:
    locations: dict[str, str] = {}
    for experiment in mlf.iter_experiments():
        location = experiment.artifact_location
        root = location.rsplit("/", 1)[0] if "/" in location else location
        root = root + "/" if root.endswith(":") else root
        locations.setdefault(root or location, experiment.name)
    if not locations:
        return ProbeResult(UNKNOWN, "No experiments: no artifact location to inspect.")
    verdicts = {root: _artifact_verdict(root) for root in locations}
    ordered = sorted(verdicts.items(), key=lambda item: (item[1] == PASS, item[0]))  # failures first
    lines = capped_lines(
        [f"{without_credentials(root)} → {verdict}" for root, verdict in ordered], EVIDENCE_LINES, "locations"
    )
    destination = settings.MLFLOW_ARTIFACTS_DESTINATION
    if any(_scheme(r) == "mlflow-artifacts" for r in verdicts):
        lines.append(
            f"proxied artifacts destination: {without_credentials(destination)}"
            if destination
            else "artifacts are proxied by the tracking server (mlflow-artifacts:/); set "
            "MLFLOW_ARTIFACTS_DESTINATION to the server's --artifacts-destination to judge it"
        )
    status = FAIL if FAIL in verdicts.values() else WARN if WARN in verdicts.values() else PASS
    head = {
        PASS: "All artifact locations are object storage.",
        WARN: "Artifact destination cannot be verified as object storage.",
        FAIL: "Some artifact locations are local files, not object storage (S3/GCS/Azure).",
    }[status]
    return ProbeResult(status, head + "\n" + "\n".join(lines))


AUTH_PROBE_PATH = "/api/2.0/mlflow/experiments/search?max_results=1"


def authentication() -> ProbeResult:
    """Anonymous requests are refused AND mlopsadmin's own service account is accepted (a rotated
    password or a downgraded account fails the probe with MLflow's answer)."""
    response = mlf.server_get(AUTH_PROBE_PATH, authenticated=False)
    code = response.status_code
    try:
        own = mlf.credentials_check()
    except (mlf.MlflowPermissionDenied, mlf.MlflowServerError, mlf.MlflowNotMlflow) as exc:
        return ProbeResult(FAIL, f"Unauthenticated GET answered {code}; mlopsadmin's own request failed: {exc}")
    if code in (401, 403):
        return _service_account_edits(f"Unauthenticated GET {AUTH_PROBE_PATH} answered {code}; {own}")
    if code == 200:
        return ProbeResult(FAIL, f"Unauthenticated GET {AUTH_PROBE_PATH} answered 200: anyone can read the server.")
    return ProbeResult(WARN, f"Unauthenticated GET {AUTH_PROBE_PATH} answered {code} (expected 401/403).")


def _service_account_edits(checked: str) -> ProbeResult:
    """PASS when the service account may change every registered model; FAIL naming each one it lacks EDIT
    on (a downgraded account still reads, but its promotions and approvals of those models are refused)."""
    from mlopsadmin.accounts.mlflow_permissions import service_account_gaps

    scope, lacking = service_account_gaps()
    user = settings.MLFLOW_TRACKING_USERNAME
    if not lacking:
        return ProbeResult(PASS, f"{checked}; {scope}.")
    lines = "\n".join(f"The service account {user!r} lacks EDIT on model {name}" for name in lacking[:10])
    more = f"\n… and {len(lacking) - 10} more" if len(lacking) > 10 else ""
    return ProbeResult(
        FAIL, f"{checked}; {scope}. Promotions and approvals of these models will be refused:\n{lines}{more}"
    )


def tls() -> ProbeResult:
    uri = mlf.tracking_uri()
    scheme = _scheme(uri)
    if scheme == "https":
        return ProbeResult(PASS, f"Tracking URI uses TLS: {without_credentials(uri)}")
    if scheme in ("http", ""):
        return ProbeResult(FAIL, f"Tracking URI is not https: {without_credentials(uri)}")
    return ProbeResult(WARN, f"Tracking URI scheme '{scheme}' is not an HTTP(S) server: {without_credentials(uri)}")


# --- Runs and models ---------------------------------------------------------------------------
def stuck_runs() -> ProbeResult:
    """Stuck runs by the reaper's own rule and age (maintenance.reaper.stuck_runs,
    MAINTENANCE_REAPER_THRESHOLD_HOURS): what the reaper would end now, no more (a run it leaves alone does
    not fail the checklist) and no less (a resumed run keeping an old end_time is not called alive)."""
    hours = settings.MAINTENANCE_REAPER_THRESHOLD_HOURS
    experiments = {e.experiment_id: e.name for e in mlf.iter_experiments()}
    stuck = list(reaper.stuck_runs(list(experiments), reaper.stuck_cutoff_ms(hours)))
    if not stuck:
        return ProbeResult(
            PASS, f"No run has been RUNNING for more than {hours:g} h ({len(experiments)} experiments searched)."
        )
    stuck.sort(key=lambda v: v.sign.at_ms or 0)
    lines = capped_lines(
        [
            f"{experiments.get(v.run.experiment_id, v.run.experiment_id)} / {v.run.run_name or v.run.run_id} "
            f"({v.run.run_id}): no sign of life since {fmt_ms(v.sign.at_ms)} ({v.sign.source})"
            for v in stuck
        ],
        EVIDENCE_LINES,
        "runs, silent longest first",
    )
    head = f"{len(stuck)} run(s) RUNNING for more than {hours:g} h with no sign of life in that time:\n"
    return ProbeResult(FAIL, head + "\n".join(lines))


def unused_models() -> ProbeResult:
    days = settings.CHECKLIST_UNUSED_MODEL_DAYS
    cutoff_ms = int((time.time() - days * 86400) * 1000)
    newest: dict[str, int] = {}
    for version in mlf.iter_model_versions():
        newest[version.name] = max(newest.get(version.name, 0), version.creation_timestamp or 0)
    unused, total = [], 0
    for model in mlf.iter_registered_models():
        total += 1
        last_new = newest.get(model.name, model.creation_timestamp or 0)
        if not model.aliases and last_new <= cutoff_ms:
            unused.append(model.name)
    if not unused:
        return ProbeResult(PASS, f"All {total} registered models have an alias or a version newer than {days} days.")
    listing = "\n".join(capped_lines(sorted(unused), EVIDENCE_LINES, "models"))
    return ProbeResult(
        WARN,
        f"{len(unused)} of {total} registered models have no alias and no new version for "
        f"{days} days; review them:\n{listing}",
    )


def mlflow_version() -> ProbeResult:
    server, client = mlf.server_version(), mlf.client_version()

    def parts(version: str) -> tuple[int, ...]:
        numbers = []
        for piece in version.split(".")[:3]:
            digits = "".join(ch for ch in piece if ch.isdigit())
            numbers.append(int(digits) if digits else 0)
        return tuple(numbers)

    evidence = f"Server {server}, installed client {client}."
    if server == client:
        return ProbeResult(PASS, evidence + " Versions match.")
    if parts(server)[:1] != parts(client)[:1]:
        return ProbeResult(FAIL, evidence + " Major versions differ: upgrade before relying on the client.")
    if parts(server)[:2] != parts(client)[:2]:
        return ProbeResult(WARN, evidence + " Minor versions differ: plan an upgrade review.")
    return ProbeResult(PASS, evidence + " Same minor version (patch level differs).")


# --- Maintenance results (another feature) ----------------------------------------------------


def _capacity(attribute: str, limit: int, label: str) -> ProbeResult:
    totals = sources.capacity_totals()
    value = getattr(totals, attribute) if totals else None
    if totals is None:
        return ProbeResult(UNKNOWN, NO_RESULTS)
    when = f" (capacity check of {totals.measured_at:%Y-%m-%d %H:%M})" if totals.measured_at else ""
    if totals.stale and not (value is not None and limit and value >= limit):  # an old figure is no data now
        was = f"; {human_bytes(value)} then" if value is not None else ""
        return ProbeResult(
            UNKNOWN,
            f"{label} unknown: the last capacity check{when} is older than "
            f"{settings.MAINTENANCE_CAPACITY_STALE_HOURS:g} h (is the daily check running?){was}.",
        )
    if value is None:  # a probe on no data is unknown, never pass
        measured = totals.artifact_measured if attribute == "artifact_bytes" else None
        if measured and limit and measured >= limit:
            return ProbeResult(FAIL, f"{label} is at least {human_bytes(measured)}, over {human_bytes(limit)}{when}.")
        missing = f"{totals.unknown_locations} location(s) could not be measured" if totals.unknown_locations else ""
        part = f"; {human_bytes(measured)} measured" if measured else ""
        return ProbeResult(UNKNOWN, f"{label} unknown: {missing or 'not measured'}{part}{when}.")
    if not limit:
        return ProbeResult(PASS, f"{label} {human_bytes(value)}{when}; no threshold set.")
    share = value / limit
    evidence = f"{label} {human_bytes(value)} of threshold {human_bytes(limit)} ({share:.0%}){when}."
    return ProbeResult(PASS if share < 0.8 else WARN if share < 1 else FAIL, evidence)


def artifact_capacity() -> ProbeResult:
    return _capacity("artifact_bytes", settings.MAINTENANCE_ARTIFACT_WARNING_BYTES, "Artifact store size")


def db_size() -> ProbeResult:
    return _capacity("db_bytes", settings.MAINTENANCE_DATABASE_WARNING_BYTES, "Backend database size")


def last_cleanup() -> ProbeResult:
    result = sources.last_cleanup()
    if result is None or result.finished_at is None:
        return ProbeResult(UNKNOWN, NO_RESULTS)
    max_days = settings.CHECKLIST_CLEANUP_MAX_AGE_DAYS
    age = timezone.now() - result.finished_at
    when = f"{result.finished_at:%Y-%m-%d %H:%M} ({age.days} days ago)"
    if not result.succeeded:
        return ProbeResult(FAIL, f"The last cleanup ended '{result.status}' at {when}. {result.summary}".strip())
    if age > timedelta(days=max_days):
        return ProbeResult(FAIL, f"The last successful cleanup finished {when}: older than {max_days} days.")
    return ProbeResult(PASS, f"The last cleanup succeeded at {when}. {result.summary}".strip())


def _naming(summary: sources.NamingSummary | None, what: str) -> ProbeResult:
    if summary is None:
        return ProbeResult(UNKNOWN, f"No {what} naming results yet (the naming linter has not reported).")
    if summary.total == 0:
        return ProbeResult(UNKNOWN, f"No {what} names checked yet (is the index synced?).")
    if summary.non_compliant == 0:
        return ProbeResult(PASS, f"All {summary.total} {what} names follow the conventions.")
    shown = capped_lines(summary.examples, len(summary.examples), "names", total=summary.non_compliant)
    examples = ("\n" + "\n".join(shown)) if summary.examples else ""
    return ProbeResult(
        WARN, f"{summary.non_compliant} of {summary.total} {what} names break the conventions." + examples
    )


def experiment_naming() -> ProbeResult:
    return _naming(sources.experiment_naming_summary(), "experiment")


def model_naming() -> ProbeResult:
    return _naming(sources.model_naming_summary(), "registered model")


# --- Latency ---------------------------------------------------------------------------------
LATENCY_OPERATIONS: list[tuple[str, str]] = [
    ("health", "/health"),
    ("experiments.search", "/api/2.0/mlflow/experiments/search?max_results=1"),
    ("registered-models.search", "/api/2.0/mlflow/registered-models/search?max_results=1"),
]


def _status_of(path: str, into: list[int]) -> None:
    into.append(mlf.server_get(path).status_code)


def take_latency_samples(*, rounds: int = 1) -> list[LatencySample]:
    """Time a few small MLflow API calls and store one LatencySample per call."""
    samples = []
    uri = without_credentials(mlf.tracking_uri())
    for _ in range(rounds):
        for name, path in LATENCY_OPERATIONS:
            status: list[int] = []
            try:
                ms = mlf.timed_call(functools.partial(_status_of, path, status))
                ok = bool(status) and status[0] < 400
            except mlf.MlflowUnavailable:
                ms, ok = settings.MLFLOW_REQUEST_TIMEOUT * 1000.0, False
            samples.append(LatencySample(operation=name, milliseconds=ms, ok=ok, tracking_uri=uri))
    return LatencySample.objects.bulk_create(samples)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    index = max(0, math.ceil(0.95 * len(ordered)) - 1)
    return ordered[index]


def latency_p95() -> ProbeResult:
    window = timezone.now() - timedelta(hours=settings.CHECKLIST_LATENCY_WINDOW_HOURS)
    recent = LatencySample.objects.filter(measured_at__gte=window, tracking_uri=without_credentials(mlf.tracking_uri()))
    if recent.count() < settings.CHECKLIST_LATENCY_MIN_SAMPLES:
        take_latency_samples(rounds=2)
    rows = list(recent.values_list("milliseconds", "ok"))
    if not rows:
        return ProbeResult(UNKNOWN, "No latency samples.")
    limit = settings.CHECKLIST_LATENCY_P95_MS
    value = p95([ms for ms, _ in rows])
    failed = sum(1 for _, ok in rows if not ok)
    evidence = (
        f"P95 {value:.0f} ms over {len(rows)} samples in the last "
        f"{settings.CHECKLIST_LATENCY_WINDOW_HOURS} h (threshold {limit:.0f} ms)"
        + (f"; {failed} failed calls" if failed else "")
        + "."
    )
    if value >= limit:
        return ProbeResult(FAIL, evidence)
    return ProbeResult(WARN if failed else PASS, evidence)


PROBES: dict[str, tuple[str, Callable[[], ProbeResult]]] = {
    "backend_store": ("Backend store is PostgreSQL/MySQL", backend_store),
    "artifact_store": ("Artifact store is object storage", artifact_store),
    "authentication": ("Unauthenticated requests are refused", authentication),
    "tls": ("Tracking URI uses TLS", tls),
    "experiment_naming": ("Experiment naming compliance", experiment_naming),
    "model_naming": ("Model naming compliance", model_naming),
    "artifact_capacity": ("Artifact store size under threshold", artifact_capacity),
    "db_size": ("Database size under threshold", db_size),
    "stuck_runs": ("No stuck RUNNING runs", stuck_runs),
    "last_cleanup": ("Successful cleanup within 7 days", last_cleanup),
    "latency_p95": ("Tracking server P95 latency under threshold", latency_p95),
    "unused_models": ("Unused registered models listed for review", unused_models),
    "mlflow_version": ("MLflow server and client versions", mlflow_version),
}


def run_probe(name: str) -> ProbeResult:
    """Run one probe; any failure becomes 'unknown' with the reason as evidence."""
    entry = PROBES.get(name)
    if entry is None:
        return ProbeResult(UNKNOWN, f"No probe named '{name}'.")
    try:
        return entry[1]()
    except mlf.MlflowError as exc:
        return ProbeResult(UNKNOWN, f"MLflow did not answer: {exc}")
    except Exception as exc:  # a probe bug must not break the checklist page
        return ProbeResult(UNKNOWN, f"Probe failed: {type(exc).__name__}: {str(exc)[:300]}")
