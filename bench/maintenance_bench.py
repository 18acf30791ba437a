"""Maintenance at scale: cleanup planning vs the guide's sequential script, reaping, execute and purge,
capacity, memory.

    python bench/maintenance_bench.py --runs 100000 --experiments 100 --workdir /tmp/bench-maint-100k \
        [--baseline /path/to/an/earlier/tree]

Builds the store (bench/maintenance_store.py, kept as a pristine copy in --workdir; `--reuse-store` starts
from that copy again, since a run changes the store), starts a real `mlflow server` on it (gunicorn,
2 workers, as the test fixture and the demo do), registers model versions backed by old FAILED runs, then
measures in ONE run, on the same store:
  1. the guide's `cleanup_old_runs` (ops guide, "Artifact Cleanup Automation") run over every experiment,
     dry run: one `search_runs` call per experiment, `max_results=500`, no page token, client-side
     keep / registeredModelName checks — exactly as written;
  2. mlopsadmin's cleanup plan reading the backend store (read-only fast path) and
  3. the same plan through the tracking API (MAINTENANCE_PLAN_READ_STORE=false), both the worker's handler
     in a child process, with the same cutoff, compared with the SQL ground truth and with each other;
     with `--baseline`, the same two plans by an earlier source tree too, interleaved with this one's on the
     same server and store (before/after figures under the same load);
  4. the guide's script made complete (following page tokens), so both sides find every candidate;
  5. the stuck-run reaper (real, not dry; every reaped run's end_time checked against its last sign of life
     in the store) and 6. the capacity check, each in a child process (skipped with `--skip-reaper-capacity`:
     their section of the results file is then kept from the earlier run);
  7. executing the backend-store plan with purge (soft delete through the tracking API with the per-run
     re-check, then the verified hard delete), checked against the store and the artifact folders
     (skipped with `--skip-execute`).
Each child reports wall time and peak RSS (ru_maxrss) — the worker's memory for that task. The machine's
load average is sampled every 5 s during the cleanup measurements and during execute. The results go to
bench/results/maintenance.md (bench/maintenance_report.py writes them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.maintenance_env import (  # noqa: E402 - after the path is set
    CLEANUP_DAYS,
    DAY_MS,
    LoadSampler,
    django_setup,
    register_backed,
    rss_mb,
    store_prepare,
    uptime_load,
)
from bench.maintenance_guide import guide_cleanup  # noqa: E402
from bench.maintenance_report import report  # noqa: E402
from bench.maintenance_truth import (  # noqa: E402
    artifact_bytes,
    ground_truth,
    reaped_check,
    store_runs,
    stuck_truth,
)


# --- child: one maintenance task, exactly as the worker runs it --------------------------------
def child(kind: str) -> None:
    from maintenance.models import CleanupPlan, TaskKind, TaskRun
    from maintenance.tasks import task_run_execute

    started = time.perf_counter()
    if kind == "idle":  # the worker process before any task: Django set up, the MLflow gateway imported
        from mlopsadmin.lib import mlflow_client  # noqa: F401

        print("RESULT " + json.dumps({"kind": kind, "rss_mb": rss_mb()}))
        return
    if kind == "plan":
        run = TaskRun.objects.create(kind=TaskKind.CLEANUP_PLAN, started_by="bench")
        plan = CleanupPlan.objects.create(
            scope="all",
            older_than_days=CLEANUP_DAYS,
            statuses=["FAILED", "KILLED"],
            cutoff_ms=int(os.environ["BENCH_CUTOFF_MS"]),
            created_by="bench",
            plan_task=run,
        )
        run.parameters = {"plan_id": plan.pk}
        run.save()
    elif kind == "execute":
        return _child_execute(started)
    elif kind == "reaper":
        run = TaskRun.objects.create(
            kind=TaskKind.REAPER, started_by="bench", parameters={"dry_run": False, "threshold_hours": 24.0}
        )
    else:
        run = TaskRun.objects.create(kind=TaskKind.CAPACITY, started_by="bench")
    outcome = task_run_execute(task_run_id=run.pk)
    run.refresh_from_db()
    result = {
        "kind": kind,
        "outcome": outcome,
        "state": run.state,
        "seconds": time.perf_counter() - started,
        "rss_mb": rss_mb(),
        "counts": run.counts,
        "errors": run.errors[:3],
    }
    if kind == "plan":
        items = CleanupPlan.objects.get(pk=run.parameters["plan_id"]).items
        result["candidates"] = sorted(items.filter(excluded=False).values_list("run_id", flat=True))
        # what must be equal between the two paths: every candidate with its status, end time and size, every
        # exclusion with its reason (a candidate's reason text holds "N days ago", which moves with the clock)
        rows = sorted(
            [r, s, e, b]
            for r, s, e, b in items.filter(excluded=False).values_list(
                "run_id", "status", "end_time", "estimated_bytes"
            )
        ) + sorted([r, x] for r, x in items.filter(excluded=True).values_list("run_id", "reason"))
        result["items_sha"] = hashlib.sha256(json.dumps(rows).encode()).hexdigest()
        result["plan_id"] = run.parameters["plan_id"]
        result["source"] = run.report.get("source", "")
        result["source_note"] = run.report.get("source_note", "")
    print("RESULT " + json.dumps(result, default=str))


def _child_execute(started: float) -> None:
    """Execute the plan BENCH_PLAN_ID with purge, as the worker does after an operator confirmed it; the
    purge step is timed apart (the handler's _purge, wrapped here)."""
    from maintenance.cleanup import execute
    from maintenance.models import CleanupPlan, PlanState, TaskKind, TaskRun
    from maintenance.tasks import task_run_execute

    plan_id = int(os.environ["BENCH_PLAN_ID"])
    run = TaskRun.objects.create(
        kind=TaskKind.CLEANUP_EXECUTE, started_by="bench", parameters={"plan_id": plan_id, "purge": True}
    )
    CleanupPlan.objects.filter(pk=plan_id).update(
        state=PlanState.EXECUTING, execute_task=run, executed_by="bench", purge=True
    )
    purge_seconds: list[float] = []
    real_purge = execute._purge

    def timed_purge(*args: Any, **kwargs: Any) -> dict[str, Any]:
        begun = time.perf_counter()
        try:
            return real_purge(*args, **kwargs)
        finally:
            purge_seconds.append(time.perf_counter() - begun)

    execute._purge = timed_purge  # type: ignore[assignment]
    outcome = task_run_execute(task_run_id=run.pk)
    run.refresh_from_db()
    purge = dict(run.report.get("purge") or {})
    purge.pop("hard_deleted", None)
    result = {
        "kind": "execute",
        "outcome": outcome,
        "state": run.state,
        "seconds": time.perf_counter() - started,
        "purge_seconds": sum(purge_seconds),
        "rss_mb": rss_mb(),
        "counts": run.counts,
        "purge": purge,
        "errors": run.errors[:3],
    }
    print("RESULT " + json.dumps(result, default=str))


def run_child(kind: str, env: dict[str, str], *, root: Path = ROOT) -> dict[str, Any]:
    """One task handler in a child process of the source tree `root` (this one, or --baseline's)."""
    out = subprocess.run(
        [sys.executable, str(root / "bench" / "maintenance_bench.py"), "--child", kind],
        env={**env, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        cwd=root,
        timeout=7200,
        check=False,
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])  # type: ignore[no-any-return]
    raise RuntimeError(f"child {kind} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


def measure(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Everything that needs the server, in one run on one store."""
    backend = f"sqlite:///{workdir / 'mlflow.db'}"
    from mlopsadmin.lib import mlflow_server as server

    port = server.free_port()
    process = server.start_server(
        port=port, backend_store_uri=backend, artifact_root=workdir / "artifacts", log_path=workdir / "mlflow.log"
    )
    url = f"http://127.0.0.1:{port}"
    found: dict[str, Any] = {"load_start": uptime_load(), "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    try:
        server.wait_healthy(url, process=process, timeout=300)
        django_setup(workdir / "mlopsadmin.sqlite3", url, backend, workdir / "artifacts")
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from mlopsadmin.lib import mlflow_client as mlf

        backed = register_backed(workdir)
        cutoff = int(time.time() * 1000) - CLEANUP_DAYS * DAY_MS
        stuck = stuck_truth(workdir / "mlflow.db")
        found.update(backed=backed, truth=sorted(ground_truth(workdir / "mlflow.db", set(backed), cutoff)), stuck=stuck)
        print(f"ground truth: {len(found['truth']):,} candidates, {len(stuck['ends'])} stuck runs", flush=True)
        # warm-up for every approach alike: the store file in the OS cache, server workers started
        with open(workdir / "mlflow.db", "rb") as handle:
            while handle.read(1 << 24):
                pass
        for experiment in list(mlf.iter_experiments())[:4]:
            mlf.search_runs_page([experiment.experiment_id], max_results=50)
        found["idle"] = run_child("idle", {**os.environ})
        sampler = LoadSampler()
        sampler.start()
        env = {**os.environ, "BENCH_CUTOFF_MS": str(cutoff)}
        found["guide"] = guide_cleanup(complete=False)
        print(f"guide (as written): {found['guide']['seconds']:.1f} s", flush=True)
        _plans(found, env, args)
        found["guide_full"] = guide_cleanup(complete=True)
        print(f"guide (complete): {found['guide_full']['seconds']:.1f} s", flush=True)
        sampler.halt.set()
        found.update(
            load_during=sampler.summary(), load_end=uptime_load(), finished=time.strftime("%H:%M UTC", time.gmtime())
        )
        if not args.skip_reaper_capacity:
            found["reaper"] = run_child("reaper", env)
            found["reaped"] = reaped_check(workdir / "mlflow.db", stuck["ends"])
            print(f"reaper: {found['reaper']['seconds']:.1f} s {found['reaped']}", flush=True)
            found["capacity"] = run_child("capacity", env)
        if not args.skip_execute:
            found["execute"] = _execute(workdir, found, env)
    finally:
        server.stop_server(process)
    return found


def _plans(found: dict[str, Any], env: dict[str, str], args: argparse.Namespace) -> None:
    """Both plan sources by this tree; with --baseline, by the earlier tree too, interleaved on the same
    server and store: earlier-store, this-store, earlier-store, this-store, earlier-API, this-API."""
    store = {**env, "MAINTENANCE_PLAN_READ_STORE": "true"}
    api = {**env, "MAINTENANCE_PLAN_READ_STORE": "false"}
    baseline: dict[str, list[dict[str, Any]]] = {"store": [], "api": [], "store_now": []}
    rounds = 2 if args.baseline else 1
    for index in range(rounds):
        if args.baseline:
            baseline["store"].append(run_child("plan", store, root=args.baseline))
            print(f"plan (store, baseline): {baseline['store'][-1]['seconds']:.1f} s", flush=True)
        result = run_child("plan", store)
        print(f"plan (store): {result['seconds']:.1f} s", flush=True)
        if index == 0:
            found["plan_store"] = result
        else:
            baseline["store_now"].append(result)
    if args.baseline:
        baseline["api"].append(run_child("plan", api, root=args.baseline))
        print(f"plan (API, baseline): {baseline['api'][-1]['seconds']:.1f} s", flush=True)
    found["plan_api"] = run_child("plan", api)
    print(f"plan (API): {found['plan_api']['seconds']:.1f} s", flush=True)
    if args.baseline:
        found["baseline"] = baseline


def _execute(workdir: Path, found: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """Execute the backend-store plan with purge; check the store and the artifact folders afterwards."""
    planned = set(found["plan_store"]["candidates"])
    before = store_runs(workdir / "mlflow.db")
    on_disk = artifact_bytes(workdir, planned)
    sampler = LoadSampler()
    sampler.start()
    load_start, started = uptime_load(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    result = run_child("execute", {**env, "BENCH_PLAN_ID": str(found["plan_store"]["plan_id"])})
    sampler.halt.set()
    after = store_runs(workdir / "mlflow.db")
    result.update(
        started=started,
        finished=time.strftime("%H:%M UTC", time.gmtime()),
        load_start=load_start,
        load_end=uptime_load(),
        load_during=sampler.summary(),
        gone_planned=len((before - after) & planned),
        gone_unplanned=len((before - after) - planned),
        planned=len(planned),
        bytes_on_disk=on_disk,
        left_on_disk=artifact_bytes(workdir, planned),
    )
    print(f"execute: {result['seconds']:.1f} s (purge {result['purge_seconds']:.1f} s)", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--experiments", type=int, default=100)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", default="")
    parser.add_argument(
        "--reuse-store",
        action="store_true",
        help="keep the store already generated in --workdir (its store.json gives the figures)",
    )
    parser.add_argument(
        "--skip-reaper-capacity",
        action="store_true",
        help="measure only the cleanup approaches; the results keep the earlier reaper and capacity figures",
    )
    parser.add_argument("--skip-execute", action="store_true", help="do not execute the plan (nor purge)")
    parser.add_argument(
        "--baseline", type=Path, default=None, help="an earlier source tree whose plans are measured alongside"
    )
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "maintenance.md")
    args = parser.parse_args()
    if args.child:
        django_setup(
            Path(os.environ["SQLITE_PATH"]),
            os.environ["MLFLOW_TRACKING_URI"],
            os.environ["MLFLOW_BACKEND_STORE_URI"],
            Path(os.environ["MLFLOW_ARTIFACTS_DESTINATION"]),
        )
        child(args.child)
        return
    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-maintenance-"))
    stats, generate_s = store_prepare(args.workdir, args)
    print(f"store: {stats} in {generate_s:.0f} s", flush=True)
    found = measure(args.workdir, args)
    (args.workdir / "found.json").write_text(json.dumps(found, default=str))  # the raw figures, for re-reading
    text = report(found, stats, generate_s, args, args.results.read_text() if args.results.exists() else "")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
