"""Where an experiment's artifacts live and how big they are: local folders (file:// or plain paths),
S3 (through mlopsadmin.lib.s3) and `mlflow-artifacts:` URIs of a server run with
`--artifacts-destination` (resolved with settings.MLFLOW_ARTIFACTS_DESTINATION, else unknown)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.conf import settings

from mlopsadmin.lib import s3


@dataclass(frozen=True)
class Location:
    kind: str  # local, s3, unknown
    uri: str  # a local path or an s3:// URI
    store: str  # the store it belongs to: a local root or an s3 bucket
    note: str = ""


def _local(path: str) -> Location:
    return Location("local", path, "local:" + str(Path(path).parent))


def _join(base: str, rest: str) -> str:
    return base.rstrip("/") + "/" + rest.lstrip("/") if rest.strip("/") else base


def resolve(artifact_location: str) -> Location:
    uri = (artifact_location or "").strip()
    if not uri:
        return Location("unknown", "", "unknown", "no artifact location")
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return _local(unquote(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and uri[1:3] == ":\\"):
        return _local(uri)
    if parsed.scheme in ("s3", "s3a"):
        normalised = "s3://" + parsed.netloc + parsed.path
        return Location("s3", normalised, "s3://" + parsed.netloc)
    if parsed.scheme == "mlflow-artifacts":
        destination = str(settings.MLFLOW_ARTIFACTS_DESTINATION or "").strip()
        if not destination:
            return Location(
                "unknown",
                uri,
                "mlflow-artifacts",
                "mlflow-artifacts: URI; set MLFLOW_ARTIFACTS_DESTINATION to measure it",
            )
        resolved = _join(destination, parsed.path)
        inner = resolve(resolved)
        return Location(inner.kind, inner.uri, "mlflow-artifacts → " + destination, inner.note)
    return Location("unknown", uri, parsed.scheme + ":", f"{parsed.scheme}: stores are not measured")


def _tree_size(path: Path) -> tuple[int, int]:
    total = count = 0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                            count += 1
                    except OSError:
                        continue
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
    return total, count


def location_size(location: Location) -> tuple[int | None, int | None]:
    """(bytes, objects) of a whole location; (None, None) when it cannot be measured."""
    if location.kind == "local":
        return _tree_size(Path(location.uri))
    if location.kind == "s3":
        return s3.prefix_size(location.uri)
    return None, None


def sizes_by_run(location: Location) -> dict[str, int] | None:
    """Bytes per run folder (first path segment) of an experiment location; None when unknown."""
    if location.kind == "local":
        root = Path(location.uri)
        sizes: dict[str, int] = {}
        try:
            with os.scandir(root) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        sizes[entry.name] = _tree_size(Path(entry.path))[0]
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return {}
        return sizes
    if location.kind == "s3":
        return s3.sizes_by_first_segment(location.uri)
    return None
