"""Execute, purge and reaping side by side with the bare alternative a user runs instead (issue 15's targets
that bench/maintenance_bench.py measures only on mlopsadmin's side).

    python bench/maintenance_side_by_side.py --runs 6000 --experiments 12 --workdir /tmp/bench-side

On one generated store (bench/maintenance_store.py; a pristine copy is restored before each side) with a real
`mlflow server` (same port both times), plus one extra experiment of 5 runs that was soft-deleted by its
team (a store that has soft-deleted experiments outside any plan):
  mlopsadmin: the stuck-run reaper (real), then the cleanup plan (backend store) executed with purge: soft
     delete through the tracking API with the per-run re-check and audit, then the verified hard delete;
     each task in a child process exactly as the worker runs it (bench/maintenance_bench.py's children);
  bare: the guide's stuck-run loop (RUNNING, no end_time, started > 24 h ago → set_terminated FAILED), then
     `delete_run` for each run of the same candidate list (no re-check, no audit), then
     `mlflow gc --backend-store-uri … --run-ids <the list>` (chunks of 2,000 ids; the guide's tool).
Each side is checked against SQL on its store afterwards: which runs and experiments left it, which runs
were ended and with what end time. The machine's load is sampled every 5 s. Results:
bench/results/maintenance_side_by_side.md.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.maintenance_bench import run_child  # noqa: E402 - after the path is set
from bench.maintenance_env import (  # noqa: E402
    CLEANUP_DAYS,
    DAY_MS,
    LoadSampler,
    copy_store,
    django_setup,
    register_backed,
    uptime_load,
)
from bench.maintenance_store import generate  # noqa: E402
from bench.maintenance_truth import artifact_bytes, ground_truth, reaped_check, store_runs, stuck_truth  # noqa: E402

GC_CHUNK = 2000  # ids per `mlflow gc --run-ids` (one argument must stay under the kernel's 128 kB)


def _experiments(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    found = {str(row[0]) for row in conn.execute("SELECT experiment_id FROM experiments")}
    conn.close()
    return found


def _soft_deleted_experiment() -> None:
    """A team's experiment deleted in the MLflow UI (not purged): 5 old FAILED runs, none planned."""
    from mlopsadmin.lib import mlflow_client as mlf

    experiment_id = mlf.create_experiment(f"/bench/deleted-by-team-{time.time_ns()}")
    start = int(time.time() * 1000) - 300 * DAY_MS
    for index in range(5):
        run_id = mlf.create_run(experiment_id, run_name=f"kept-{index}", start_time=start)
        mlf.set_terminated(run_id, status="FAILED", end_time=start + 1000)
    mlf.delete_experiment(experiment_id)


def _bare_reaper() -> dict[str, Any]:
    """The guide's "Stuck runs" script, over every experiment (all pages)."""
    from mlopsadmin.lib import mlflow_client as mlf

    started = time.perf_counter()
    cutoff = int(time.time() * 1000) - DAY_MS
    ended: list[str] = []
    ids = [e.experiment_id for e in mlf.iter_experiments()]
    for start in range(0, len(ids), 100):
        for run in mlf.iter_runs(ids[start : start + 100], filter_string="attributes.status = 'RUNNING'"):
            if not run.end_time and (run.start_time or 0) < cutoff:
                mlf.set_terminated(run.run_id, status="FAILED")
                ended.append(run.run_id)
    return {"seconds": time.perf_counter() - started, "ended": ended}


def _bare_delete_and_gc(run_ids: list[str], backend: str) -> dict[str, Any]:
    from mlopsadmin.lib import mlflow_client as mlf

    started = time.perf_counter()
    for run_id in run_ids:
        mlf.delete_run(run_id)
    deleted_s = time.perf_counter() - started
    started = time.perf_counter()
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    for start in range(0, len(run_ids), GC_CHUNK):
        chunk = ",".join(run_ids[start : start + GC_CHUNK])
        subprocess.run(
            [str(mlflow_cli), "gc", "--backend-store-uri", backend, "--run-ids", chunk],
            check=True,
            capture_output=True,
            env={**os.environ, "MLFLOW_TRACKING_URI": os.environ["MLFLOW_TRACKING_URI"]},
        )
    return {"delete_seconds": deleted_s, "gc_seconds": time.perf_counter() - started}


def _reaped_by_guide(db: Path, ended: list[str], ends: dict[str, int]) -> dict[str, int]:
    conn = sqlite3.connect(db)
    now_ms = int(time.time() * 1000)
    marks = ",".join("?" * len(ended)) or "''"
    rows = conn.execute(f"SELECT run_uuid, end_time FROM runs WHERE run_uuid IN ({marks})", ended).fetchall()
    conn.close()
    fresh = sum(1 for _, end in rows if end and now_ms - end < DAY_MS)
    return {
        "ended": len(ended),
        "stuck_ended": len(set(ended) & set(ends)),
        "alive_ended": len(set(ended) - set(ends)),
        "stuck_missed": len(set(ends) - set(ended)),
        "end_time_now": fresh,
    }


def side(name: str, workdir: Path, pristine: Path, port: int, env: dict[str, str]) -> dict[str, Any]:
    from mlopsadmin.lib import mlflow_server as server

    copy_store(pristine, workdir)
    db, backend = workdir / "mlflow.db", f"sqlite:///{workdir / 'mlflow.db'}"
    process = server.start_server(
        port=port, backend_store_uri=backend, artifact_root=workdir / "artifacts", log_path=workdir / f"{name}.log"
    )
    found: dict[str, Any] = {"side": name, "load_start": uptime_load()}
    sampler = LoadSampler()
    try:
        server.wait_healthy(f"http://127.0.0.1:{port}", process=process, timeout=300)
        backed = set(register_backed(workdir))
        _soft_deleted_experiment()
        cutoff = int(time.time() * 1000) - CLEANUP_DAYS * DAY_MS
        stuck = stuck_truth(db)["ends"]
        runs_before, experiments_before = store_runs(db), _experiments(db)
        sampler.start()
        if name == "mlopsadmin":
            found["reaper"] = run_child("reaper", env)
            found["reaped"] = reaped_check(db, stuck)
            plan = run_child("plan", {**env, "BENCH_CUTOFF_MS": str(cutoff), "MAINTENANCE_PLAN_READ_STORE": "true"})
            planned = set(plan["candidates"])
            found["plan_seconds"] = plan["seconds"]
            bytes_before = artifact_bytes(workdir, planned)
            found["execute"] = run_child("execute", {**env, "BENCH_PLAN_ID": str(plan["plan_id"])})
        else:
            reaper = _bare_reaper()
            found["reaper"] = {"seconds": reaper["seconds"]}
            found["reaped"] = _reaped_by_guide(db, reaper["ended"], stuck)
            planned = ground_truth(db, backed, cutoff)  # the list mlopsadmin's plan holds (equal in every run)
            bytes_before = artifact_bytes(workdir, planned)
            found["execute"] = _bare_delete_and_gc(sorted(planned), backend)
        sampler.halt.set()
        runs_after, experiments_after = store_runs(db), _experiments(db)
        found.update(
            planned=len(planned),
            stuck=len(stuck),
            gone_planned=len((runs_before - runs_after) & planned),
            gone_unplanned=len((runs_before - runs_after) - planned),
            experiments_gone=len(experiments_before - experiments_after),
            bytes_on_disk=bytes_before,
            left_on_disk=artifact_bytes(workdir, planned),
            load_during=sampler.summary(),
            load_end=uptime_load(),
        )
    finally:
        sampler.halt.set()
        server.stop_server(process)
    print(name, {k: v for k, v in found.items() if k != "execute"}, found["execute"], flush=True)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=6000)
    parser.add_argument("--experiments", type=int, default=12)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "maintenance_side_by_side.md")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    pristine = args.workdir / "pristine"
    started = time.perf_counter()
    stats = generate(args.workdir, runs=args.runs, experiments=args.experiments)
    copy_store(args.workdir, pristine)
    print(f"store {stats} in {time.perf_counter() - started:.0f} s", flush=True)
    from mlopsadmin.lib import mlflow_server as server

    port = server.free_port()
    url = f"http://127.0.0.1:{port}"
    backend = f"sqlite:///{args.workdir / 'mlflow.db'}"
    django_setup(args.workdir / "mlopsadmin.sqlite3", url, backend, args.workdir / "artifacts")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    env = {**os.environ}
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results = [side("bare", args.workdir, pristine, port, env), side("mlopsadmin", args.workdir, pristine, port, env)]
    from bench.maintenance_side_report import write

    write(args.results, results, {**stats, "experiments": args.experiments}, when, " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
