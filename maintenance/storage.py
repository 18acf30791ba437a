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


class Unmeasurable(Exception):
    """A location exists in MLflow's records but cannot be read here (missing root, no permission): its size
    is unknown, never 0 B."""


def _tree_size(path: Path) -> tuple[int, int]:
    """(bytes, files) under `path`. Raises Unmeasurable when any folder in it cannot be read (a partial sum
    would be shown as a smaller size than the truth)."""
    total = count = 0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                        count += 1
        except FileNotFoundError:
            if current == path:
                raise
            continue  # removed while we walked (a purge): it holds nothing any more
        except OSError as exc:
            raise Unmeasurable(f"cannot read {current}: {exc.strerror or exc}") from exc
    return total, count


def _local_size(root: Path) -> tuple[int, int]:
    """A local location's size. A missing folder is 0 B only when its store root (the parent folder) exists
    and is readable: MLflow creates an experiment's folder with its first artifact. A missing store root (a
    volume not mounted here) or an unreadable folder is Unmeasurable."""
    try:
        return _tree_size(root)
    except FileNotFoundError:
        parent = root.parent
        if parent.is_dir() and os.access(parent, os.R_OK | os.X_OK):
            return 0, 0
        raise Unmeasurable(f"folder {root} not found here (and its store root {parent} is not readable)") from None
    except NotADirectoryError:
        raise Unmeasurable(f"{root} is not a folder") from None


def location_size(location: Location) -> tuple[int | None, int | None]:
    """(bytes, objects) of a whole location; (None, None) when its kind is never measured (see
    `Location.note`). Raises Unmeasurable for a local folder that cannot be read, and lib.s3's errors."""
    if location.kind == "local":
        return _local_size(Path(location.uri))
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
                        try:
                            sizes[entry.name] = _tree_size(Path(entry.path))[0]
                        except (FileNotFoundError, Unmeasurable):
                            continue  # that run's size is unknown: its estimate stays empty
        except FileNotFoundError:
            return {}
        except OSError:
            return None
        return sizes
    if location.kind == "s3":
        return s3.sizes_by_first_segment(location.uri)
    return None
