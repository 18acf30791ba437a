"""What the maintenance benches share (maintenance_bench.py, maintenance_side_by_side.py, bulk_actions.py):
Django for a run against a generated store, the store itself (generated once, restored from a pristine copy),
model versions backed by old FAILED runs, and the figures beside each timing (peak RSS, load average)."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

DAY_MS = 86_400_000
CLEANUP_DAYS = 90


def django_setup(db_path: Path, tracking_uri: str, backend: str, destination: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlopsadmin.settings")
    os.environ["SQLITE_PATH"] = str(db_path)
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    os.environ["MLFLOW_BACKEND_STORE_URI"] = backend
    os.environ["MLFLOW_ARTIFACTS_DESTINATION"] = str(destination)
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    import django

    django.setup()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class LoadSampler(threading.Thread):
    """The 1-minute load average every 5 s while the cleanup approaches are measured."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.samples.append(os.getloadavg()[0])
            self.halt.wait(5)

    def summary(self) -> str:
        values = self.samples or [os.getloadavg()[0]]
        return f"min {min(values):.2f}, mean {sum(values) / len(values):.2f}, max {max(values):.2f}"


def uptime_load() -> str:
    out = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    return out.split("load average:")[-1].strip() if "load average:" in out else out


def store_prepare(workdir: Path, args: argparse.Namespace) -> tuple[dict[str, int], float]:
    """The store in --workdir: generated (and copied to workdir/pristine), or with --reuse-store restored
    from that copy (a run reaps, deletes and purges, so each run starts from the same store)."""
    from bench.maintenance_store import generate

    saved, pristine = workdir / "store.json", workdir / "pristine"
    if args.reuse_store and saved.exists() and (pristine / "mlflow.db").exists():
        copy_store(pristine, workdir)
        stats = json.loads(saved.read_text())
        return stats, float(stats.get("generate_seconds", 0))
    started = time.perf_counter()
    stats = generate(workdir, runs=args.runs, experiments=args.experiments)
    seconds = time.perf_counter() - started
    saved.write_text(json.dumps({**stats, "generate_seconds": round(seconds)}))
    copy_store(workdir, pristine)
    return stats, seconds


def copy_store(source: Path, target: Path) -> None:
    target.mkdir(exist_ok=True)
    shutil.rmtree(target / "artifacts", ignore_errors=True)
    for old in target.glob("mlflow.db*"):
        old.unlink()
    for path in [*source.glob("mlflow.db*"), source / "artifacts"]:
        subprocess.run(["cp", "-a", str(path), str(target / path.name)], check=True)


def register_backed(workdir: Path) -> list[str]:
    """Model versions backed by old FAILED runs, with no tag on the run (the guide would delete them)."""
    from mlopsadmin.lib import mlflow_client as mlf

    try:
        mlf.create_registered_model("bench-model")
    except mlf.MlflowConflict:  # a reused store: registered by the earlier run
        return sorted({v.run_id for v in mlf.iter_model_versions(name="bench-model")})
    conn = sqlite3.connect(workdir / "mlflow.db")
    backed = [
        r[0]
        for r in conn.execute(
            "SELECT run_uuid FROM runs WHERE status = 'FAILED' AND end_time < ? ORDER BY run_uuid LIMIT 20",
            [int(time.time() * 1000) - 200 * DAY_MS],
        )
    ]
    conn.close()
    for run_id in backed:
        mlf.create_model_version("bench-model", source=f"runs:/{run_id}/model", run_id=run_id)
    return backed
