"""The cleanup plan's backend-store read with and without the any-spelling `keep` key check (issue 15,
case 6: a `kEEp` / `Keep ` key was not read by the store path), interleaved on one generated store.

    python bench/plan_store_read.py --runs 50000 --experiments 50 --workdir /tmp/bench-plan-read [--rounds 3]

Reads exactly what planning reads (mlf.iter_store_cleanup_runs over every experiment, the planning statuses,
the 90-day cutoff): once as before the check (the exact keys keep/Keep/KEEP and mlflow.registeredModelName)
and once as today (keep and mlflow.registeredModelName by key, every other spelling of `keep` counted), alternating,
and prints wall times, row counts and the load average. No server is needed: the read is the read-only store path.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.maintenance_store import generate  # noqa: E402 - after the path is set

DAY_MS = 86_400_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50_000)
    parser.add_argument("--experiments", type=int, default=50)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not (args.workdir / "mlflow.db").exists():
        started = time.perf_counter()
        print("store", generate(args.workdir, runs=args.runs, experiments=args.experiments), end=" ")
        print(f"in {time.perf_counter() - started:.0f} s", flush=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlopsadmin.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
    os.environ["SQLITE_PATH"] = str(args.workdir / "mlopsadmin.sqlite3")
    import django

    django.setup()
    from maintenance.cleanup.protection import KEEP_TAG, PROTECTING_TAGS, REGISTERED_MODEL_TAG

    before = ("keep", "Keep", "KEEP", REGISTERED_MODEL_TAG)  # the read before: three exact spellings, no other
    from mlopsadmin.lib import mlflow_client as mlf

    uri = f"sqlite:///{args.workdir / 'mlflow.db'}"
    import sqlite3

    conn = sqlite3.connect(args.workdir / "mlflow.db")
    experiments = [str(row[0]) for row in conn.execute("SELECT experiment_id FROM experiments")]
    conn.close()
    cutoff = int(time.time() * 1000) - 90 * DAY_MS
    with open(args.workdir / "mlflow.db", "rb") as handle:  # the file in the OS cache for both alike
        while handle.read(1 << 24):
            pass
    times: dict[str, list[float]] = {"exact keys": [], "any spelling": []}
    rows: dict[str, int] = {}
    for _ in range(args.rounds):
        for label, keys, folded in (("exact keys", before, ""), ("any spelling", PROTECTING_TAGS, KEEP_TAG)):
            load = os.getloadavg()[0]
            started = time.perf_counter()
            found = list(
                mlf.iter_store_cleanup_runs(
                    uri,
                    experiments,
                    statuses=["FAILED", "KILLED"],
                    cutoff_ms=cutoff,
                    tag_keys=keys,
                    folded_key=folded,
                )
            )
            times[label].append(time.perf_counter() - started)
            rows[label] = len(found)
            print(f"{label}: {times[label][-1]:.2f} s, {len(found)} rows, load {load:.2f}", flush=True)
    for label, values in times.items():
        print(f"{label}: median {sorted(values)[len(values) // 2]:.2f} s over {len(values)} rounds, {rows[label]} rows")


if __name__ == "__main__":
    main()
