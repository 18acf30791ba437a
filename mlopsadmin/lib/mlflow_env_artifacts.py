"""Moving a model's artifacts between tracking servers (issue 22) with each server's OWN credentials.

Part of the MLflow gateway. MLflow's artifact repositories read basic-auth credentials from the process
environment (MLFLOW_TRACKING_USERNAME/PASSWORD) on every request, so they cannot talk to two servers with
two service accounts at once without swapping process-wide variables (which a concurrent request would
see). Here an artifact location served by a tracking server (`mlflow-artifacts:` — the server was started
with --serve-artifacts — or its http(s) form) is read and written over MLflow's artifact HTTP API
(/api/2.0/mlflow-artifacts/artifacts) through the environment's own `requests` session (mlflow_rest.
transport_for): credentials travel with that session only. Files are streamed in CHUNK-sized pieces to
and from disk, never whole in memory. Other locations (s3://, a shared file system) go through MLflow's
artifact repositories, which need no tracking-server credentials (object stores use their own).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings

from mlopsadmin.lib.mlflow_errors import MlflowInvalid, MlflowUnavailable, answer_error, call, short_message
from mlopsadmin.lib.mlflow_rest import Transport

ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
CHUNK = 1024 * 1024  # bytes read from or written to a socket at a time (1 MiB)


@dataclass
class Moved:
    """What a transfer moved: files and bytes (for the audit record and figures)."""

    files: int = 0
    bytes: int = 0


def served_url(artifact_uri: str, tracking_uri: str) -> str | None:
    """The HTTP URL of an artifact location served by the tracking server at `tracking_uri`, or None for a
    location of another kind (s3://, a file path). `mlflow-artifacts:/<path>` resolves against the
    tracking server like MLflow's MlflowArtifactsRepository.resolve_uri (a host in the URI wins)."""
    parts = urlsplit(artifact_uri)
    if parts.scheme == "mlflow-artifacts":
        track = urlsplit(tracking_uri)
        path = track.path.rstrip("/") + ARTIFACTS_API + "/" + parts.path.lstrip("/")
        netloc = parts.netloc or track.netloc.rpartition("@")[2]
        return urlunsplit((track.scheme, netloc, path.rstrip("/"), "", ""))
    if parts.scheme in ("http", "https") and ARTIFACTS_API in parts.path:
        return artifact_uri.rstrip("/")
    return None


def _timeout() -> float:
    return float(settings.MLFLOW_REQUEST_TIMEOUT)


def _get(via: Transport, url: str, operation: str, **kwargs: Any) -> requests.Response:
    try:
        response = via.retrying.get(url, timeout=_timeout(), **kwargs)
    except requests.exceptions.RequestException as exc:
        raise MlflowUnavailable(f"{operation}: {short_message(str(exc))}", operation=operation) from None
    if response.status_code != 200:
        raise answer_error(response.status_code, response.text, operation, account=via.account)
    return response


def _safe(path: str) -> str:
    """A listed file's path, refused when it could leave the download folder."""
    clean = posixpath.normpath(path)
    if clean.startswith(("/", "..")) or "\\" in clean:
        raise MlflowInvalid(f"download_artifacts: unsafe artifact path {path!r}", operation="download_artifacts")
    return clean


def _files(via: Transport, url: str) -> list[tuple[str, int | None]]:
    """[(path relative to `url`, size)] of every file under the served location `url`, recursively."""
    server, _, root = url.partition(ARTIFACTS_API)
    root = root.strip("/")
    found: list[tuple[str, int | None]] = []
    pending = [""]
    while pending:
        sub = pending.pop()
        listed = _get(via, server + ARTIFACTS_API, "list_artifacts", params={"path": f"{root}/{sub}".strip("/")})
        for entry in listed.json().get("files") or []:
            rel = _safe(posixpath.join(sub, entry["path"]) if sub else entry["path"])
            if entry.get("is_dir"):
                pending.append(rel)
            else:
                found.append((rel, int(entry["file_size"]) if "file_size" in entry else None))
    return found


def download(via: Transport, artifact_uri: str, tracking_uri: str, dst: Path) -> Moved:
    """Download every file under `artifact_uri` into folder `dst` (created), streamed to disk. Raises
    MlflowError (MlflowNotFound, MlflowUnavailable, refusals) on the first failure."""
    dst.mkdir(parents=True, exist_ok=True)
    url = served_url(artifact_uri, tracking_uri)
    if url is None:
        return _download_repository(artifact_uri, dst)
    moved = Moved()
    for rel, _size in _files(via, url):
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with (
            _get(via, f"{url}/{rel}", "download_artifacts", stream=True) as response,
            target.open("wb") as out,
        ):
            try:
                for chunk in response.iter_content(chunk_size=CHUNK):
                    out.write(chunk)
                    moved.bytes += len(chunk)
            except requests.exceptions.RequestException as exc:
                raise MlflowUnavailable(
                    f"download_artifacts: {short_message(str(exc))}", operation="download"
                ) from None
        moved.files += 1
    return moved


def upload(via: Transport, local_dir: Path, artifact_uri: str, tracking_uri: str, artifact_path: str) -> Moved:
    """Upload every file under `local_dir` to `artifact_uri`/`artifact_path`, each streamed from disk in
    one PUT (sent once: a lost answer is found by the caller reading the target back)."""
    url = served_url(artifact_uri, tracking_uri)
    if url is None:
        return _upload_repository(local_dir, artifact_uri, artifact_path)
    moved = Moved()
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(local_dir).as_posix()
        with path.open("rb") as body:
            try:
                response = via.single.put(
                    f"{url}/{artifact_path}/{rel}",
                    data=body,
                    headers={"Content-Type": "application/octet-stream"},
                    timeout=_timeout(),
                )
            except requests.exceptions.RequestException as exc:
                raise MlflowUnavailable(
                    f"log_artifacts: {short_message(str(exc))}", operation="log_artifacts"
                ) from None
        if response.status_code != 200:
            raise answer_error(response.status_code, response.text, "log_artifacts", account=via.account)
        moved.files += 1
        moved.bytes += path.stat().st_size
    return moved


def _size(folder: Path) -> Moved:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return Moved(len(files), sum(p.stat().st_size for p in files))


def _download_repository(artifact_uri: str, dst: Path) -> Moved:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    call("download_artifacts", lambda: get_artifact_repository(artifact_uri).download_artifacts("", str(dst)))
    return _size(dst)


def _upload_repository(local_dir: Path, artifact_uri: str, artifact_path: str) -> Moved:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    call("log_artifacts", lambda: get_artifact_repository(artifact_uri).log_artifacts(str(local_dir), artifact_path))
    return _size(local_dir)
