"""Issue 22: a model with a large artifact (48 MiB of weights) is copied dev → prod streamed: the copy's
Python memory peak stays a small fraction of the file's size, and prod serves the same bytes (checked by
hash) and loads the model with the source server stopped."""

from __future__ import annotations

import hashlib
import os
import tempfile
import tracemalloc
import uuid
from pathlib import Path

import pytest
import requests

from mlopsadmin.lib import mlflow_support
from mlopsadmin.lib.mlflow_env_artifacts import served_url
from registry_ui.environments import services

from .helpers import configure, make_version

pytestmark = pytest.mark.django_db
SIZE = 48 * 1024 * 1024
PEAK_LIMIT = 12 * 1024 * 1024  # a quarter of the file: holding it whole (or half) in memory fails


def _location(server: str, name: str, version: str) -> str:
    answer = requests.get(
        f"{server}/api/2.0/mlflow/model-versions/get-download-uri",
        params={"name": name, "version": version},
        timeout=30,
    )
    answer.raise_for_status()
    url = served_url(answer.json()["artifact_uri"], server)
    assert url, answer.text
    return url


def _sha256_of_download(url: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with requests.get(url, stream=True, timeout=60) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_content(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def test_large_artifact_is_streamed_across_servers(dev_mlflow, mlflow, personas) -> None:  # type: ignore[no-untyped-def]
    configure(
        {
            "dev": {"kind": "server", "tracking_uri": dev_mlflow.url, "next": "prod"},
            "prod": {"kind": "server", "tracking_uri": mlflow},
        }
    )
    name = f"search-large-{uuid.uuid4().hex[:8]}"
    version = make_version(dev_mlflow.url, name, score=0.9)
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "weights.bin"
        with weights.open("wb") as out:
            for _ in range(SIZE // (1024 * 1024)):
                block = os.urandom(1024 * 1024)
                digest.update(block)
                out.write(block)
        with weights.open("rb") as body:
            put = requests.put(f"{_location(dev_mlflow.url, name, version)}/weights.bin", data=body, timeout=120)
        assert put.status_code == 200, put.text

    tracemalloc.start()
    try:
        result = services.promote_to_next(actor=personas["admin"], source_env="dev", model=name, version=version)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.bytes >= SIZE
    assert peak < PEAK_LIMIT, f"copy of {SIZE / 2**20:.0f} MiB peaked at {peak / 2**20:.1f} MiB of Python memory"
    copied = _location(mlflow, name, result.target_version)
    assert _sha256_of_download(f"{copied}/weights.bin") == (digest.hexdigest(), SIZE)
    dev_mlflow.stop()
    try:
        assert mlflow_support.load_pyfunc(f"models:/{name}/{result.target_version}").predict([[0.0]]) == [0.9]
    finally:
        dev_mlflow.start()
