"""Maintenance at scale: cleanup planning vs the guide's sequential script, reaping, capacity, memory.

    python bench/maintenance_bench.py --runs 100000 --experiments 100 --workdir /tmp/bench-maint-100k

Builds the store (bench/maintenance_store.py; `--reuse-store` keeps the one in --workdir), starts a real
`mlflow server` on it (gunicorn, 2 workers, as the test fixture and the demo do), registers model versions
backed by old FAILED runs, then measures in ONE run, on the same store:
  1. the guide's `cleanup_old_runs` (ops guide, "Artifact Cleanup Automation") run over every experiment,
     dry run: one `search_runs` call per experiment, `max_results=500`, no page token, client-side
     keep / registeredModelName checks — exactly as written;
  2. mlopsadmin's cleanup plan reading the backend store (read-only fast path) and
  3. the same plan through the tracking API (MAINTENANCE_PLAN_READ_STORE=false), both the worker's handler
     in a child process, with the same cutoff, compared with the SQL ground truth and with each other;
  4. the guide's script made complete (following page tokens), so both sides find every candidate;
  5. the stuck-run reaper (real, not dry) and 6. the capacity check, each in a child process (skipped with
     `--skip-reaper-capacity`: their section of the results file is then kept from the earlier run).
Each child reports wall time and peak RSS (ru_maxrss) — the worker's memory for that task. The machine's
load average is sampled every 5 s during the cleanup measurements. The results go to
bench/results/maintenance.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

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
    from maintenance.models import CleanupPlan, TaskKind, TaskRun
    from maintenance.tasks import task_run_execute

    started = time.perf_counter()
    if kind == "idle":  # the worker process before any task: Django set up, the MLflow gateway imported
        from mlopsadmin.lib import mlflow_client  # noqa: F401

        print("RESULT " + json.dumps({"kind": kind, "rss_mb": _rss_mb()}))
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
        "rss_mb": _rss_mb(),
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
        result["source"] = run.report.get("source", "")
        result["source_note"] = run.report.get("source_note", "")
    print("RESULT " + json.dumps(result, default=str))


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
                [experiment.experiment_id],
                filter_string=f"attributes.end_time < {cutoff} AND attributes.status != 'RUNNING'",
                order_by=["attributes.end_time ASC"],
                max_results=500,
                page_token=token,
            )
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


def ground_truth(db: Path, protected: set[str], cutoff: int) -> set[str]:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT r.run_uuid FROM runs r WHERE r.lifecycle_stage = 'active' AND r.status IN ('FAILED', 'KILLED') "
        "AND r.end_time < ? AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.run_uuid = r.run_uuid AND t.key = 'keep' "
        "AND lower(trim(t.value)) = 'true')",
        [cutoff],
    ).fetchall()
    conn.close()
    return {r[0] for r in rows} - protected


def stuck_truth(db: Path) -> int:
    cutoff = int(time.time() * 1000) - DAY_MS
    conn = sqlite3.connect(db)
    (count,) = conn.execute(
        "SELECT count(*) FROM runs r WHERE r.status = 'RUNNING' AND r.lifecycle_stage = 'active' AND r.start_time < ? "
        "AND COALESCE((SELECT max(timestamp) FROM latest_metrics m WHERE m.run_uuid = r.run_uuid), 0) < ?",
        [cutoff, cutoff],
    ).fetchone()
    conn.close()
    return int(count)


def run_child(kind: str, env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=7200,
        check=False,
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])  # type: ignore[no-any-return]
    raise RuntimeError(f"child {kind} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


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


def _uptime() -> str:
    out = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    return out.split("load average:")[-1].strip() if "load average:" in out else out


def _store(workdir: Path, args: argparse.Namespace) -> tuple[dict[str, int], float]:
    from bench.maintenance_store import generate

    saved = workdir / "store.json"
    if args.reuse_store and saved.exists() and (workdir / "mlflow.db").exists():
        stats = json.loads(saved.read_text())
        return stats, float(stats.get("generate_seconds", 0))
    started = time.perf_counter()
    stats = generate(workdir, runs=args.runs, experiments=args.experiments)
    seconds = time.perf_counter() - started
    saved.write_text(json.dumps({**stats, "generate_seconds": round(seconds)}))
    return stats, seconds


def _register_backed(workdir: Path) -> list[str]:
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


def measure(workdir: Path, args: argparse.Namespace) -> dict[str, object]:
    """Everything that needs the server, in one run on one store."""
    backend = f"sqlite:///{workdir / 'mlflow.db'}"
    from mlopsadmin.lib import mlflow_server as server

    port = server.free_port()
    process = server.start_server(
        port=port, backend_store_uri=backend, artifact_root=workdir / "artifacts", log_path=workdir / "mlflow.log"
    )
    url = f"http://127.0.0.1:{port}"
    found: dict[str, object] = {"load_start": _uptime(), "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    try:
        server.wait_healthy(url, process=process, timeout=300)
        _django(workdir / "mlopsadmin.sqlite3", url, backend, workdir / "artifacts")
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from mlopsadmin.lib import mlflow_client as mlf

        backed = _register_backed(workdir)
        cutoff = int(time.time() * 1000) - CLEANUP_DAYS * DAY_MS
        found.update(
            backed=backed,
            truth=sorted(ground_truth(workdir / "mlflow.db", set(backed), cutoff)),
            stuck=stuck_truth(workdir / "mlflow.db"),
        )
        print(f"ground truth: {len(found['truth']):,} candidates, {found['stuck']} stuck runs", flush=True)  # type: ignore[arg-type]
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
        print(f"guide (as written): {found['guide']['seconds']:.1f} s", flush=True)  # type: ignore[index]
        found["plan_store"] = run_child("plan", {**env, "MAINTENANCE_PLAN_READ_STORE": "true"})
        print(f"plan (store): {found['plan_store']['seconds']:.1f} s", flush=True)  # type: ignore[index]
        found["plan_api"] = run_child("plan", {**env, "MAINTENANCE_PLAN_READ_STORE": "false"})
        print(f"plan (API): {found['plan_api']['seconds']:.1f} s", flush=True)  # type: ignore[index]
        found["guide_full"] = guide_cleanup(complete=True)
        print(f"guide (complete): {found['guide_full']['seconds']:.1f} s", flush=True)  # type: ignore[index]
        sampler.halt.set()
        found.update(
            load_during=sampler.summary(), load_end=_uptime(), finished=time.strftime("%H:%M UTC", time.gmtime())
        )
        if not args.skip_reaper_capacity:
            found["reaper"] = run_child("reaper", env)
            found["capacity"] = run_child("capacity", env)
    finally:
        server.stop_server(process)
    return found


def _plan_row(label: str, plan: dict[str, Any], truth: set[str]) -> str:
    planned = set(plan["candidates"])
    correct = (
        "**equal to the ground truth**"
        if planned == truth
        else (f"MISMATCH: misses {len(truth - planned):,}, {len(planned - truth):,} extra")
    )
    correct += f'; the task report says "{plan["source"]}"'
    return (
        f"| {label} | **{float(plan['seconds']):.1f} s** | "
        f"{plan['counts'].get('candidates', 0) + plan['counts'].get('excluded', 0):,} "
        f"({plan['counts'].get('candidates', 0):,} candidates + {plan['counts'].get('excluded', 0):,} exclusions "
        f"with reasons) | {len(planned):,} | {correct}; state {plan['state']}; peak RSS "
        f"**{float(plan['rss_mb']):.0f} MB** |"
    )


def _guide_row(label: str, guide: dict[str, Any], truth: set[str], backed: set[str]) -> str:
    chosen = set(guide["would_delete"])
    return (
        f"| {label} | {float(guide['seconds']):.1f} s | {guide['runs_listed']:,} | {len(chosen):,} | misses "
        f"{len(truth - chosen):,} candidates; would also delete {len(chosen & backed)} model-version sources "
        f"and {len(chosen - truth - backed):,} FINISHED runs (its filter is `status != 'RUNNING'`) |"
    )


def _reaper_section(found: dict[str, Any], previous: str) -> list[str]:
    if "reaper" not in found:
        kept = previous.split("## Reaper and capacity", 1)
        if len(kept) == 2:
            title, _, body = kept[1].partition("\n")
            body = body.split("\nPeak RSS is", 1)[0]  # the closing note is written again below
            title = title if "earlier run" in title else " (earlier run, not re-measured here)"
            return ["## Reaper and capacity" + title, body.rstrip()]
        return ["## Reaper and capacity", "", "Not measured in this run (`--skip-reaper-capacity`)."]
    reaper, capacity = found["reaper"], found["capacity"]
    return [
        f"## Reaper and capacity ({found['started']})",
        "",
        "| task | wall time | result | peak RSS |",
        "|---|---|---|---|",
        f"| stuck-run reaper (real) | {float(reaper['seconds']):.1f} s | {reaper['counts']} "
        f"(truth: {found['stuck']}) | "
        f"{float(reaper['rss_mb']):.0f} MB |",
        f"| capacity check | {float(capacity['seconds']):.1f} s | state {capacity['state']}, "
        f"counts {capacity['counts']} | {float(capacity['rss_mb']):.0f} MB |",
    ]


def report(found: dict[str, Any], stats: dict[str, int], generate_s: float, args: argparse.Namespace) -> str:
    truth, backed = set(found["truth"]), set(found["backed"])
    guide, guide_full = found["guide"], found["guide_full"]
    store, api = found["plan_store"], found["plan_api"]
    ratio = float(guide["seconds"]) / float(store["seconds"])
    same = store["items_sha"] == api["items_sha"]
    previous = args.results.read_text() if args.results.exists() else ""
    lines = [
        "# Maintenance benchmark",
        "",
        f"Store: {stats['runs']:,} runs in {args.experiments} experiments (+ Default; {stats['files']:,} artifact "
        f"files), SQLite backend, `mlflow server` with 2 gunicorn workers, on this shared 2-core machine. Measured "
        f"{found['started']}–{found['finished']}. Store generated in {generate_s:.0f} s by "
        "bench/maintenance_store.py (schema by `mlflow db upgrade`, rows by sqlite3). 20 model versions are backed "
        "by old FAILED runs that carry no tag. Command: `python bench/maintenance_bench.py --runs "
        f"{args.runs} --experiments {args.experiments} --workdir {args.workdir}"
        + (" --reuse-store" if args.reuse_store else "")
        + (" --skip-reaper-capacity" if args.skip_reaper_capacity else "")
        + "`.",
        "",
        f"Machine load (1/5/15-minute load average, `uptime`): {found['load_start']} at the start, "
        f"{found['load_end']} at the end; 1-minute load sampled every 5 s during the four cleanup measurements: "
        f"{found['load_during']}.",
        "",
        f"Ground truth (SQL on the store, same cutoff as both plans): **{len(truth):,}** cleanup candidates "
        "(FAILED/KILLED, ended > 90 days ago, not keep=true in any case, not a model-version source); "
        f"**{found['stuck']:,}** stuck runs (RUNNING > 24 h with no metric in 24 h).",
        "",
        "## Cleanup planning vs the guide's sequential script (one run, one store)",
        "",
        "| approach | wall time | runs listed | would delete | correct? |",
        "|---|---|---|---|---|",
        _guide_row(
            "guide's `cleanup_old_runs`, as written, over every experiment (500/experiment, no paging), dry run",
            guide,
            truth,
            backed,
        ),
        _guide_row("guide's script, completed with page tokens", guide_full, truth, backed),
        _plan_row(
            "mlopsadmin cleanup plan from the backend store (default when `MLFLOW_BACKEND_STORE_URI` is "
            "set), worker handler",
            store,
            truth,
        ),
        _plan_row(
            "mlopsadmin cleanup plan through the tracking API (`MAINTENANCE_PLAN_READ_STORE=false`), worker handler",
            api,
            truth,
        ),
        "",
        f"**Speed-up of the plan (backend store) vs the guide as written: {ratio:.1f}×** "
        f"({float(guide['seconds']):.1f} s / {float(store['seconds']):.1f} s); vs the guide completed: "
        f"{float(guide_full['seconds']) / float(store['seconds']):.1f}×. The plan through the tracking API: "
        f"{float(guide['seconds']) / float(api['seconds']):.1f}× vs the guide as written.",
        "",
        "The two plan paths produced " + ("**identical plans**" if same else "**DIFFERENT plans**") + " (every "
        "candidate with status, end time and artifact size estimate; every exclusion with its reason; sha256 "
        f"`{store['items_sha'][:16]}…`" + ("" if same else f" vs `{api['items_sha'][:16]}…`") + ").",
        "",
        "Why the difference: over REST, MLflow's SQL store loads every listed run's tags, params and latest "
        "metrics and serialises them, and the client parses them (the guide and the API plan pay this per run). "
        "The store path reads run id, experiment, name, status, start/end time and two tags (`keep`, "
        "`mlflow.registeredModelName`) of the matching active runs in one streamed, read-only query over "
        "MLflow's own SQLAlchemy models, after checking that the store's alembic revision is the installed "
        "MLflow's head. The rest of its time is the same for both paths: artifact size estimates (a walk of each "
        "experiment's folder) and writing the plan items. Execution always goes through the tracking API with a "
        "per-run re-check.",
        "",
        *_reaper_section(found, previous),
        "",
        "Peak RSS is `ru_maxrss` of the child process that ran each task handler exactly as the Celery worker does "
        "(Django and the MLflow client imported, runs streamed through a bounded queue); the 300 MB budget holds "
        f"when every figure above is below it. Of that, {float(found['idle']['rss_mb']):.0f} MB is the same "
        "process before any task (Django set up, the MLflow gateway imported).",
    ]
    return "\n".join(lines) + "\n"


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
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "maintenance.md")
    args = parser.parse_args()
    if args.child:
        _django(
            Path(os.environ["SQLITE_PATH"]),
            os.environ["MLFLOW_TRACKING_URI"],
            os.environ["MLFLOW_BACKEND_STORE_URI"],
            Path(os.environ["MLFLOW_ARTIFACTS_DESTINATION"]),
        )
        child(args.child)
        return
    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-maintenance-"))
    stats, generate_s = _store(args.workdir, args)
    print(f"store: {stats} in {generate_s:.0f} s", flush=True)
    found = measure(args.workdir, args)
    text = report(found, stats, generate_s, args)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
