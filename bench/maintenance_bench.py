"""Maintenance at scale: cleanup planning vs the guide's sequential script, reaping, capacity, memory.

    python bench/maintenance_bench.py --runs 100000 --experiments 100

Builds the store (bench/maintenance_store.py), starts a real `mlflow server` on it (gunicorn, 2 workers,
as the test fixture and the demo do), registers model versions backed by old FAILED runs, then measures
in ONE run, on the same store:
  1. the guide's `cleanup_old_runs` (ops guide, "Artifact Cleanup Automation") run over every experiment,
     dry run: one `search_runs` call per experiment, `max_results=500`, no page token, client-side
     keep / registeredModelName checks — exactly as written;
  2. the same script made complete (following page tokens), so both sides find every candidate;
  3. mlopsadmin's cleanup plan (the worker's handler, in a child process: server-side status/end-time
     filter, streamed pages, parallel experiments, model-version guard, artifact size estimates);
  4. the stuck-run reaper (real, not dry) and 5. the capacity check, each in a child process.
Each child reports wall time and peak RSS (ru_maxrss) — the worker's memory for that task. The
results go to bench/results/maintenance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DAY_MS = 86_400_000
CLEANUP_DAYS = 90


def _django(db_path: Path, tracking_uri: str, backend: str, destination: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlopsadmin.settings")
    os.environ["SQLITE_PATH"] = str(db_path)
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    os.environ["MLFLOW_BACKEND_STORE_URI"] = backend
    os.environ["MLFLOW_ARTIFACTS_DESTINATION"] = str(destination)
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    import django

    django.setup()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- child: one maintenance task, exactly as the worker runs it --------------------------------
def child(kind: str) -> None:
    from maintenance import services
    from maintenance.models import CleanupPlan, TaskKind, TaskRun

    started = time.perf_counter()
    if kind == "plan":
        run = TaskRun.objects.create(kind=TaskKind.CLEANUP_PLAN, started_by="bench")
        plan = CleanupPlan.objects.create(scope="all", older_than_days=CLEANUP_DAYS, statuses=["FAILED", "KILLED"],
                                          cutoff_ms=int(time.time() * 1000) - CLEANUP_DAYS * DAY_MS,
                                          created_by="bench", plan_task=run)
        run.parameters = {"plan_id": plan.pk}
        run.save()
    elif kind == "reaper":
        run = TaskRun.objects.create(kind=TaskKind.REAPER, started_by="bench",
                                     parameters={"dry_run": False, "threshold_hours": 24.0})
    else:
        run = TaskRun.objects.create(kind=TaskKind.CAPACITY, started_by="bench")
    outcome = services.task_run_execute(task_run_id=run.pk)
    run.refresh_from_db()
    result = {"kind": kind, "outcome": outcome, "state": run.state, "seconds": time.perf_counter() - started,
              "rss_mb": _rss_mb(), "counts": run.counts, "errors": run.errors[:3]}
    if kind == "plan":
        result["candidate_ids_sha"] = _ids_digest(CleanupPlan.objects.get(pk=run.parameters["plan_id"]))
    print("RESULT " + json.dumps(result, default=str))


def _ids_digest(plan: object) -> list[str]:
    return sorted(plan.items.filter(excluded=False).values_list("run_id", flat=True))  # type: ignore[attr-defined]


# --- the guide's script ------------------------------------------------------------------------
def guide_cleanup(*, complete: bool) -> dict[str, object]:
    """`cleanup_old_runs(name, days_old=90, dry_run=True)` for every experiment, through the gateway's
    single-page call (the guide: max_results=500, no page token). complete=True follows page tokens."""
    from mlopsadmin.lib import mlflow_client as mlf

    started = time.perf_counter()
    cutoff = int(time.time() * 1000) - CLEANUP_DAYS * DAY_MS
    would_delete: list[str] = []
    found = 0
    for experiment in mlf.iter_experiments():
        token = None
        while True:
            runs, token = mlf.search_runs_page(
                [experiment.experiment_id], filter_string=f"attributes.end_time < {cutoff} AND "
                                                          f"attributes.status != 'RUNNING'",
                order_by=["attributes.end_time ASC"], max_results=500, page_token=token)
            found += len(runs)
            for run in runs:
                if run.tags.get("keep", "false").lower() == "true":
                    continue
                if run.tags.get("mlflow.registeredModelName"):
                    continue
                would_delete.append(run.run_id)  # the guide prints "[DRY RUN] Would delete run ..."
            if not complete or not token:
                break
    return {"seconds": time.perf_counter() - started, "would_delete": would_delete, "runs_listed": found}


def ground_truth(db: Path, protected: set[str]) -> set[str]:
    cutoff = int(time.time() * 1000) - CLEANUP_DAYS * DAY_MS
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT r.run_uuid FROM runs r WHERE r.lifecycle_stage = 'active' AND r.status IN ('FAILED', 'KILLED') "
        "AND r.end_time < ? AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.run_uuid = r.run_uuid AND t.key = 'keep' "
        "AND lower(t.value) = 'true')", [cutoff]).fetchall()
    conn.close()
    return {r[0] for r in rows} - protected


def stuck_truth(db: Path) -> int:
    cutoff = int(time.time() * 1000) - DAY_MS
    conn = sqlite3.connect(db)
    (count,) = conn.execute(
        "SELECT count(*) FROM runs r WHERE r.status = 'RUNNING' AND r.lifecycle_stage = 'active' AND r.start_time < ? "
        "AND COALESCE((SELECT max(timestamp) FROM latest_metrics m WHERE m.run_uuid = r.run_uuid), 0) < ?",
        [cutoff, cutoff]).fetchone()
    conn.close()
    return int(count)


def run_child(kind: str, env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, "--child", kind], env=env, capture_output=True, text=True,
                         cwd=ROOT, timeout=7200, check=False)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])  # type: ignore[no-any-return]
    raise RuntimeError(f"child {kind} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


def plan_only(workdir: Path) -> None:
    """Re-measure the plan on an existing store (after a fix), against a fresh ground truth."""
    from mlopsadmin.lib import mlflow_server as server

    backend = f"sqlite:///{workdir / 'mlflow.db'}"
    port = server.free_port()
    process = server.start_server(port=port, backend_store_uri=backend, artifact_root=workdir / "artifacts",
                                  log_path=workdir / "mlflow.log")
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_healthy(url, process=process, timeout=300)
        _django(workdir / "mlopsadmin.sqlite3", url, backend, workdir / "artifacts")
        from mlopsadmin.lib import mlflow_client as mlf

        backed = {v.run_id for v in mlf.iter_model_versions(name="bench-model")}
        truth = ground_truth(workdir / "mlflow.db", backed)
        with open(workdir / "mlflow.db", "rb") as handle:
            while handle.read(1 << 24):
                pass
        plan = run_child("plan", {**os.environ})
    finally:
        server.stop_server(process)
    planned = set(plan.pop("candidate_ids_sha"))  # type: ignore[arg-type]
    print(f"PLAN-ONLY truth={len(truth)} planned={len(planned)} equal={planned == truth} "
          f"seconds={float(plan['seconds']):.1f} rss_mb={float(plan['rss_mb']):.0f} state={plan['state']} "
          f"errors={plan['errors']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--experiments", type=int, default=100)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", default="")
    parser.add_argument("--plan-only", action="store_true",
                        help="reuse --workdir's store; measure only the cleanup plan against the ground truth")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "maintenance.md")
    args = parser.parse_args()
    if args.child:
        _django(Path(os.environ["SQLITE_PATH"]), os.environ["MLFLOW_TRACKING_URI"],
                os.environ["MLFLOW_BACKEND_STORE_URI"], Path(os.environ["MLFLOW_ARTIFACTS_DESTINATION"]))
        child(args.child)
        return

    from bench.maintenance_store import generate

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-maintenance-"))
    if args.plan_only:
        plan_only(workdir)
        return
    t0 = time.perf_counter()
    stats = generate(workdir, runs=args.runs, experiments=args.experiments)
    generate_s = time.perf_counter() - t0
    print(f"store: {stats} in {generate_s:.0f} s", flush=True)
    backend = f"sqlite:///{workdir / 'mlflow.db'}"
    from mlopsadmin.lib import mlflow_server as server

    port = server.free_port()
    process = server.start_server(port=port, backend_store_uri=backend, artifact_root=workdir / "artifacts",
                                  log_path=workdir / "mlflow.log")
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_healthy(url, process=process, timeout=300)
        db_path = workdir / "mlopsadmin.sqlite3"
        _django(db_path, url, backend, workdir / "artifacts")
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from mlopsadmin.lib import mlflow_client as mlf

        # model versions backed by old FAILED runs, with no tag on the run (the guide would delete them)
        conn = sqlite3.connect(workdir / "mlflow.db")
        backed = [r[0] for r in conn.execute(
            "SELECT run_uuid FROM runs WHERE status = 'FAILED' AND end_time < ? ORDER BY run_uuid LIMIT 20",
            [int(time.time() * 1000) - 200 * DAY_MS])]
        conn.close()
        mlf.create_registered_model("bench-model")
        for run_id in backed:
            mlf.create_model_version("bench-model", source=f"runs:/{run_id}/model", run_id=run_id)
        truth = ground_truth(workdir / "mlflow.db", set(backed))
        stuck = stuck_truth(workdir / "mlflow.db")
        print(f"ground truth: {len(truth)} candidates, {stuck} stuck runs", flush=True)

        # warm-up for every approach alike: the store file in the OS cache, server workers started
        with open(workdir / "mlflow.db", "rb") as handle:
            while handle.read(1 << 24):
                pass
        for experiment in list(mlf.iter_experiments())[:4]:
            mlf.search_runs_page([experiment.experiment_id], max_results=50)
        guide = guide_cleanup(complete=False)
        print(f"guide (as written): {guide['seconds']:.1f} s", flush=True)
        guide_full = guide_cleanup(complete=True)
        print(f"guide (complete): {guide_full['seconds']:.1f} s", flush=True)
        env = {**os.environ}
        plan = run_child("plan", env)
        print(f"plan: {plan['seconds']:.1f} s", flush=True)
        reaper = run_child("reaper", env)
        capacity = run_child("capacity", env)
    finally:
        server.stop_server(process)

    planned = set(plan.pop("candidate_ids_sha"))  # type: ignore[arg-type]
    guide_set = set(guide["would_delete"])  # type: ignore[arg-type]
    backed_set = set(backed)
    guide_full_set = set(guide_full["would_delete"])  # type: ignore[arg-type]
    ratio = float(guide["seconds"]) / float(plan["seconds"])  # type: ignore[arg-type]
    ratio_full = float(guide_full["seconds"]) / float(plan["seconds"])  # type: ignore[arg-type]
    lines = [
        "# Maintenance benchmark",
        "",
        f"Store: {stats['runs']:,} runs in {args.experiments} experiments ({stats['files']:,} artifact files), "
        f"SQLite backend, `mlflow server` with 2 gunicorn workers, on this shared 2-core machine "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}). Generated in {generate_s:.0f} s by "
        "bench/maintenance_store.py. 20 model versions are backed by old FAILED runs with no tag.",
        "",
        f"Ground truth (SQL on the store): **{len(truth):,}** cleanup candidates (FAILED/KILLED, ended > 90 days "
        f"ago, not keep=true, not a model-version source); **{stuck:,}** stuck runs (RUNNING > 24 h, no metric "
        "in 24 h).",
        "",
        "## Cleanup planning vs the guide's sequential script",
        "",
        "| approach | wall time | runs listed | would delete | correct? |",
        "|---|---|---|---|---|",
        f"| guide's `cleanup_old_runs`, as written (500/experiment, no paging) | {guide['seconds']:.1f} s | "
        f"{guide['runs_listed']:,} | {len(guide_set):,} | misses {len(truth - guide_set):,} candidates; would also "
        f"delete {len(guide_set & backed_set)} model-version sources and {len(guide_set - truth - backed_set):,} "
        "FINISHED runs (its filter is `status != 'RUNNING'`) |",
        f"| guide's script, completed with page tokens | {guide_full['seconds']:.1f} s | {guide_full['runs_listed']:,} "
        f"| {len(guide_full_set):,} | misses {len(truth - guide_full_set):,}; would also delete "
        f"{len(guide_full_set & backed_set)} model-version sources and "
        f"{len(guide_full_set - truth - backed_set):,} FINISHED runs |",
        f"| mlopsadmin cleanup plan (worker handler) | {float(plan['seconds']):.1f} s | — | {len(planned):,} | "
        f"{'finds every candidate, deletes nothing protected' if planned == truth else 'MISMATCH'} "
        f"(peak RSS {float(plan['rss_mb']):.0f} MB) |",
        "",
        f"**Speed-up: {ratio:.1f}× vs the guide as written, {ratio_full:.1f}× vs the guide completed** "
        "(the guide as written also lists FINISHED runs and re-filters them client-side; it is sequential).",
        "",
        "## Reaper and capacity",
        "",
        "| task | wall time | result | peak RSS |",
        "|---|---|---|---|",
        f"| stuck-run reaper (real) | {float(reaper['seconds']):.1f} s | {reaper['counts']} (truth: {stuck}) | "
        f"{float(reaper['rss_mb']):.0f} MB |",
        f"| capacity check | {float(capacity['seconds']):.1f} s | state {capacity['state']}, "
        f"counts {capacity['counts']} | {float(capacity['rss_mb']):.0f} MB |",
        "",
        "Peak RSS is ru_maxrss of the child process that ran the task handler exactly as the Celery worker does "
        "(Django + the MLflow client imported); the 300 MB budget holds when every row above is below it.",
    ]
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
