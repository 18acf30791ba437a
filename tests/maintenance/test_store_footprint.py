"""Issue 20, "worker RSS under 300 MB": a worker whose bulk actions go through MLflow's backend store
(MLFLOW_BACKEND_STORE_URI: re-checks read the store, deletes and purges go through MLflow's store layer
in-process) stays within the budget. It peaked at 305-307 MB (bench/bulk_actions.py), ~65 MB of it pyarrow,
which pandas loads as an optional backend while `import mlflow` runs and which nothing mlopsadmin does uses
(mlopsadmin/lib/mlflow_lean.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a child process that builds an MLflow store (a few seconds)

ROOT = Path(__file__).resolve().parents[2]
BUDGET_MB = 300  # the worker budget

# A worker process as bench/bulk_actions.py warms it up (task modules, URL conf, MLflow's store layer built),
# then the store path of every bulk action on runs that are not there: a re-check read, a delete and a
# terminate through MLflow's store layer, a purge.
CHILD = """
import json, sys
import django
django.setup()
import maintenance.tasks
from django.urls import get_resolver
get_resolver().url_patterns
from mlopsadmin.lib import mlflow_client as mlf
uri, destination = sys.argv[1], sys.argv[2]
deleted = mlf.delete_runs(["0" * 32], workers=1, store_uri=uri, artifacts_destination=destination)
writable = mlf.backend_store_writable(uri)
found = mlf.get_runs(["0" * 32], ["0"], store_uri=uri)
ended = mlf.terminate_runs({"1" * 32: ("FAILED", 1, {})}, workers=1, store_uri=uri, artifacts_destination=destination)
purged = mlf.purge_runs(uri, ["2" * 32], artifacts_destination=destination)
loaded = sorted(name for name in ("mlflow", "pandas", "pyarrow") if name in sys.modules)
# this process's peak RSS: VmHWM starts afresh at exec (ru_maxrss would keep the forking pytest's size)
rss_mb = int(dict(line.split(":", 1) for line in open("/proc/self/status"))["VmHWM"].split()[0]) / 1024
try:
    import pyarrow  # still importable by whoever needs it later
    later = pyarrow.__name__
except ImportError as exc:
    later = f"ImportError: {exc}"
print("RESULT " + json.dumps({
    "writable": writable, "found": list(found), "loaded": loaded, "rss_mb": rss_mb, "later": later,
    "deleted": {k: type(v).__name__ for k, v in deleted.items()},
    "ended": {k: type(v).__name__ for k, v in ended.items()},
    "skipped": purged.skipped, "purged": purged.hard_deleted,
}))
"""


def test_the_store_path_of_the_bulk_actions_leaves_pyarrow_out_and_stays_within_the_worker_budget(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "MLOPSADMIN_VAR_DIR": str(tmp_path / "var"), "DEBUG": "true", "PYTHONPATH": str(ROOT)}
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = subprocess.run(
        [sys.executable, "-c", CHILD, uri, str(tmp_path / "artifacts")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, out.stderr[-3000:]
    found = json.loads(lines[-1][len("RESULT ") :])
    # the store path worked: MLflow built its store, each run's outcome came back (none of these runs exist)
    assert found["writable"] is True and found["found"] == []
    assert found["deleted"] == {"0" * 32: "MlflowNotFound"}
    assert found["ended"] == {"1" * 32: "MlflowNotFound"}
    assert found["skipped"] == {"2" * 32: "not found"} and found["purged"] == []
    # ... without pyarrow, which stays importable for whoever needs it later
    assert found["loaded"] == ["mlflow", "pandas"]
    assert found["later"] == "pyarrow"
    assert found["rss_mb"] < BUDGET_MB, found["rss_mb"]
