"""Issue 20 side by side, in ONE run on ONE `mlflow server` (gunicorn, 2 workers, SQLite store;
`--pg-database NAME`: the same rows copied to PostgreSQL, bench/pg_store.py): mlopsadmin's
cleanup plan / execute / reaper / purge against what a user would run instead, on equal, disjoint sets of runs
of the same store, interleaved, with the load average (`uptime`) at each measurement.

    python bench/bulk_actions.py --runs 10000 --experiments 50 --workdir /tmp/bench-bulk [--reuse-store]
        [--only reaper]  (stages to run: plan,execute,reaper,purge; a partial run writes found.json only)

  1. plan through the tracking API (MAINTENANCE_PLAN_READ_STORE=false, worker handler in a child) vs the guide's
     `cleanup_old_runs` dry run over every experiment, as written (bench/maintenance_guide.py), twice each;
  2. execute, no purge: the guide's `delete_run` loop on set A vs mlopsadmin's execute of a plan of set B
     through the tracking API alone (no MLFLOW_BACKEND_STORE_URI) and of set C with the backend store
     configured (re-checks read the store, deletes through MLflow's store layer), in two interleaved rounds;
     every run of B and C re-checked and audited (verified after: one run.delete event per deleted run);
  3. the reaper, on six equal sets of `--reaper-runs` stuck RUNNING runs added to the store for this stage
     (4 experiments each), in two interleaved rounds: the guide's loop (search RUNNING, `set_terminated` the ones
     with no end time started > 24 h ago) on one set vs the real reaper handler through the API on the next and
     with the store on the third (the handler is the worker's; the bench only narrows its experiment list);
  4. purge: `mlflow gc --run-ids` in chunks of 200 (what the guide's users run) on set A vs mlopsadmin's purge
     (mlf.purge_runs) of sets B and C — per run.
Children report wall time and peak RSS. Results: bench/results/bulk_actions.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.maintenance_env import copy_store, django_setup, rss_mb, uptime_load  # noqa: E402 - after the path is set
from bench.maintenance_guide import guide_cleanup  # noqa: E402

DAY_MS = 86_400_000
RESULTS = ROOT / "bench" / "results" / "bulk_actions.md"


def _plan(**fields: Any) -> Any:
    from maintenance.models import CleanupPlan

    cutoff = int(os.environ["BENCH_CUTOFF_MS"])
    return CleanupPlan.objects.create(
        scope="all", older_than_days=90, statuses=["FAILED", "KILLED"], cutoff_ms=cutoff, created_by="bench", **fields
    )


def child(kind: str) -> None:
    """One mlopsadmin task in this (child) process, as the worker runs it; prints RESULT <json>."""
    from maintenance.models import PlanItem, PlanState, TaskKind, TaskRun
    from maintenance.tasks import task_run_execute
    from mlopsadmin.core.models import AuditEvent
    from mlopsadmin.lib import mlflow_client as mlf

    _warm_up()
    profile = None
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    started = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime  # the child's CPU (all threads) from here: client-side cost
    result: dict[str, Any] = {"kind": kind}
    if kind == "plan":
        run = TaskRun.objects.create(kind=TaskKind.CLEANUP_PLAN, started_by="bench")
        plan = _plan(plan_task=run)
        run.parameters = {"plan_id": plan.pk}
        run.save()
        result["outcome"] = task_run_execute(task_run_id=run.pk)
        result["candidates"] = plan.items.filter(excluded=False).count()
    elif kind == "execute":
        rows = json.loads(os.environ["BENCH_ITEMS"])
        run = TaskRun.objects.create(kind=TaskKind.CLEANUP_EXECUTE, started_by="bench")
        plan = _plan(
            state=PlanState.EXECUTING,
            candidate_count=len(rows),
            execute_task=run,
            executed_by="bench",
        )
        PlanItem.objects.bulk_create(
            [PlanItem(plan=plan, run_id=r, experiment_id=e, status=s, reason="bench") for r, e, s in rows]
        )
        run.parameters = {"plan_id": plan.pk, "purge": False}
        run.save()
        started = time.perf_counter()  # the handler alone (the plan rows are the bench's set-up)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu0 = usage.ru_utime + usage.ru_stime
        result["outcome"] = task_run_execute(task_run_id=run.pk)
        result["events"] = AuditEvent.objects.filter(action="run.delete", target_id__in=[r for r, _, _ in rows]).count()
    elif kind == "reaper":
        chosen = set(os.environ["BENCH_EXPERIMENTS"].split(","))
        real = mlf.iter_experiments
        mlf.iter_experiments = lambda **kw: (e for e in real(**kw) if e.experiment_id in chosen)  # type: ignore[assignment]
        run = TaskRun.objects.create(
            kind=TaskKind.REAPER, started_by="bench", parameters={"dry_run": False, "threshold_hours": 24.0}
        )
        before = AuditEvent.objects.filter(action="run.reap").count()
        result["outcome"] = task_run_execute(task_run_id=run.pk)
        result["events"] = AuditEvent.objects.filter(action="run.reap").count() - before  # this task's only
    elif kind == "purge":
        from django.conf import settings

        ids = json.loads(os.environ["BENCH_RUN_IDS"])
        purged = mlf.purge_runs(
            settings.MLFLOW_BACKEND_STORE_URI, ids, artifacts_destination=settings.MLFLOW_ARTIFACTS_DESTINATION
        )
        result.update(purged=len(purged.hard_deleted), skipped=len(purged.skipped), surprise=purged.surprise)
    if kind != "purge":
        run.refresh_from_db()
        result.update(state=run.state, counts=run.counts, errors=run.errors[:3])
    used = resource.getrusage(resource.RUSAGE_SELF)
    result.update(seconds=time.perf_counter() - started, rss_mb=rss_mb(), cpu=used.ru_utime + used.ru_stime - cpu0)
    if profile is not None:
        import pstats

        profile.disable()
        with open(f"{os.environ['BENCH_PROFILE']}.{kind}.{os.getpid()}", "w") as out:
            stats = pstats.Stats(profile, stream=out)
            stats.sort_stats("cumulative").print_stats(60)
            stats.sort_stats("tottime").print_stats(30)
    print("RESULT " + json.dumps(result, default=str))


def _warm_up() -> None:
    """What a worker process has done before its task: the task modules imported, the gateway's transport and
    (where configured) MLflow's store layer built; the bench times the handler, not the process start."""
    from django.urls import get_resolver

    import maintenance.tasks  # noqa: F401 - imports every handler

    get_resolver().url_patterns  # noqa: B018 - the URL conf, loaded by the first notification link
    from mlopsadmin.lib import mlflow_client as mlf

    uri = os.environ.get("MLFLOW_BACKEND_STORE_URI", "")
    if uri and mlf.backend_store_writable(uri):
        mlf.delete_runs([], workers=1, store_uri=uri, artifacts_destination=os.environ["MLFLOW_ARTIFACTS_DESTINATION"])
    mlf.server_health()


def run_child(kind: str, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bulk_actions.py"), "--child", kind],
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=3600,
        check=False,
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            found: dict[str, Any] = json.loads(line[len("RESULT ") :])
            found["load"] = uptime_load()
            return found
    raise RuntimeError(f"child {kind} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


def _candidates(db: Path, cutoff: int, backed: set[str]) -> list[tuple[str, str, str]]:
    """(run id, experiment id, status) of every true cleanup candidate (FAILED/KILLED, ended before the cutoff,
    active, no keep tag in any case, no registeredModelName tag, not a version's source), in a fixed order."""
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT r.run_uuid, r.experiment_id, r.status FROM runs r WHERE r.lifecycle_stage = 'active' "
        "AND r.status IN ('FAILED', 'KILLED') AND r.end_time < ? AND NOT EXISTS (SELECT 1 FROM tags t WHERE "
        "t.run_uuid = r.run_uuid AND (lower(t.key) = 'keep' OR t.key = 'mlflow.registeredModelName')) "
        "ORDER BY r.run_uuid",
        [cutoff],
    ).fetchall()
    conn.close()
    return [(r, str(e), s) for r, e, s in rows if r not in backed]


def _guide_delete(run_ids: list[str]) -> dict[str, Any]:
    """The guide's loop: `client.delete_run(run_id)` per run, sequentially (through the gateway's transport)."""
    from mlopsadmin.lib import mlflow_client as mlf

    started = time.perf_counter()
    for run_id in run_ids:
        mlf.delete_run(run_id)
    return {"seconds": time.perf_counter() - started, "runs": len(run_ids), "load": uptime_load()}


def _guide_reaper(experiment_ids: list[str]) -> dict[str, Any]:
    """The guide's "Run Status Permanently Stuck as RUNNING" loop over these experiments."""
    from mlopsadmin.lib import mlflow_client as mlf

    started = time.perf_counter()
    now = time.time() * 1000
    ended = 0
    for experiment_id in experiment_ids:
        for run in mlf.iter_runs([experiment_id], filter_string="attributes.status = 'RUNNING'"):
            if not run.end_time and now - (run.start_time or now) > DAY_MS:
                mlf.set_terminated(run.run_id, status="FAILED")
                ended += 1
    return {"seconds": time.perf_counter() - started, "runs": ended, "load": uptime_load()}


def _reaper_rounds(
    workdir: Path, pg_database: str, runs: int, api_only: dict[str, str], with_store: dict[str, str]
) -> list[dict[str, Any]]:
    """Six new sets of `runs` stuck runs each (bench/maintenance_store.add_stuck_sets, added to the live store
    now so the earlier stages see the store as generated): per round, the guide's loop on one set, the reaper
    handler through the API on the next and with the store on the third (the handler's experiment list narrowed
    to its set)."""
    from bench.maintenance_store import add_stuck_sets

    sets = add_stuck_sets(workdir / "mlflow.db", sets=6, runs_per_set=runs)
    if pg_database:
        from bench.pg_store import copy_experiments_to_postgres

        copy_experiments_to_postgres(workdir / "mlflow.db", pg_database, [e for ids in sets for e in ids])
    rounds = []
    for number in range(2):
        guide, api, store = sets[3 * number : 3 * number + 3]
        row = {"guide": _guide_reaper(guide)}
        row["api"] = run_child("reaper", {**api_only, "BENCH_EXPERIMENTS": ",".join(api)})
        row["store"] = run_child("reaper", {**with_store, "BENCH_EXPERIMENTS": ",".join(store)})
        rounds.append(row)
        print("reaper", row, flush=True)
    return rounds


def _gc(backend: str, run_ids: list[str]) -> dict[str, Any]:
    """`mlflow gc --backend-store-uri … --run-ids …` in chunks of 200 (a subprocess each, as a user runs it)."""
    started = time.perf_counter()
    for start in range(0, len(run_ids), 200):
        chunk = ",".join(run_ids[start : start + 200])
        subprocess.run(
            [sys.executable, "-m", "mlflow", "gc", "--backend-store-uri", backend, "--run-ids", chunk],
            check=True,
            capture_output=True,
        )
    return {"seconds": time.perf_counter() - started, "runs": len(run_ids), "load": uptime_load()}


def measure(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:  # noqa: PLR0915 - one linear script
    from bench.maintenance_store import generate
    from mlopsadmin.lib import mlflow_server as server

    pristine = workdir / "pristine"
    if args.reuse_store and (pristine / "mlflow.db").exists():
        copy_store(pristine, workdir)
    else:
        generate(workdir, runs=args.runs, experiments=args.experiments)
        copy_store(workdir, pristine)
    db = workdir / "mlflow.db"
    backend = f"sqlite:///{db}"
    if args.pg_database:  # the same rows on PostgreSQL (the production-like store; SQLite serializes writes)
        from bench.pg_store import copy_to_postgres

        backend = copy_to_postgres(db, args.pg_database)
    (workdir / "mlopsadmin.sqlite3").unlink(missing_ok=True)
    port = args.port or server.free_port()
    process = server.start_server(
        port=port, backend_store_uri=backend, artifact_root=workdir / "artifacts", log_path=workdir / "mlflow.log"
    )
    url = f"http://127.0.0.1:{port}"
    found: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_start": uptime_load()}
    try:
        server.wait_healthy(url, process=process, timeout=300)
        django_setup(workdir / "mlopsadmin.sqlite3", url, backend, workdir / "artifacts")
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        cutoff = int(time.time() * 1000) - 90 * DAY_MS
        with_store = {**os.environ, "BENCH_CUTOFF_MS": str(cutoff)}
        api_only = {**with_store, "MLFLOW_BACKEND_STORE_URI": ""}
        # 1. plan through the tracking API vs the guide's dry run, interleaved
        found["plan"] = []
        for _ in range(2 if "plan" in args.only else 0):
            guide = guide_cleanup(complete=False)
            guide_row = {"seconds": guide["seconds"], "would_delete": len(guide["would_delete"]), "load": uptime_load()}
            ours = run_child("plan", api_only)  # a server whose store mlopsadmin cannot read
            found["plan"].append({"guide": guide_row, "ours": ours})
            print("plan", found["plan"][-1], flush=True)
        # 2. execute: equal disjoint sets
        candidates = _candidates(db, cutoff, set())
        n = min(args.execute_runs, len(candidates) // 3)
        sets = {"A": candidates[:n], "B": candidates[n : 2 * n], "C": candidates[2 * n : 3 * n]}
        found["execute"] = []
        half = n // 2
        for part in (slice(0, half), slice(half, n)) if "execute" in args.only else ():
            guide_row = _guide_delete([r for r, _, _ in sets["A"][part]])
            api = run_child("execute", {**api_only, "BENCH_ITEMS": json.dumps(sets["B"][part])})
            store = run_child("execute", {**with_store, "BENCH_ITEMS": json.dumps(sets["C"][part])})
            found["execute"].append({"guide": guide_row, "api": api, "store": store})
            print("execute", found["execute"][-1], flush=True)
        # 3. the reaper on its own equal sets of stuck runs, interleaved (guide / API / store) in two rounds
        found["reaper"] = []
        if "reaper" in args.only:
            found["reaper"] = _reaper_rounds(workdir, args.pg_database, args.reaper_runs, api_only, with_store)
        if "purge" not in args.only:
            return found
        # 4. purge of what was deleted
        found["purge"] = {"gc": _gc(backend, [r for r, _, _ in sets["A"]])}
        ids = [r for r, _, _ in sets["B"] + sets["C"]]
        found["purge"]["ours"] = run_child("purge", {**with_store, "BENCH_RUN_IDS": json.dumps(ids)})
        print("purge", found["purge"], flush=True)
    finally:
        server.stop_server(process)
    found["finished"] = time.strftime("%H:%M UTC", time.gmtime())
    found["load_end"] = uptime_load()
    found["sizes"] = {
        "runs": args.runs,
        "experiments": args.experiments,
        "execute_set": n,
        "reaper_set": args.reaper_runs,
    }
    found["backend"] = "PostgreSQL" if args.pg_database else "SQLite"
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--experiments", type=int, default=51)
    parser.add_argument("--execute-runs", type=int, default=800)
    parser.add_argument("--reaper-runs", type=int, default=1000, help="stuck runs per reaper set (6 sets)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-bulk"))
    parser.add_argument("--reuse-store", action="store_true")
    parser.add_argument("--only", default="plan,execute,reaper,purge", help="steps to run (profiling)")
    parser.add_argument("--pg-database", default="", help="copy the store to this PostgreSQL database and serve it")
    parser.add_argument("--port", type=int, default=0, help="the MLflow server's port (default: any free one)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="markdown file the report is appended to")
    args = parser.parse_args()
    if args.child:
        django_setup(
            Path(os.environ["SQLITE_PATH"]),
            os.environ["MLFLOW_TRACKING_URI"],
            os.environ.get("MLFLOW_BACKEND_STORE_URI", ""),
            Path(os.environ["MLFLOW_ARTIFACTS_DESTINATION"]),
        )
        child(args.child)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    found = measure(args.workdir, args)
    (args.workdir / "found.json").write_text(json.dumps(found, indent=1, default=str))
    from bench.bulk_report import report

    if args.only != parser.get_default("only"):  # a partial (profiling) run: found.json only
        return
    text = report(found, " ".join(sys.argv[1:]))
    with args.results.open("a") as out:
        out.write("\n" + text)
    print(text)


if __name__ == "__main__":
    main()
