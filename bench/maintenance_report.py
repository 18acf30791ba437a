"""The results file of bench/maintenance_bench.py (bench/results/maintenance.md): tables from what one run
measured. Kept apart from the measuring script so each stays readable."""

from __future__ import annotations

import argparse
from typing import Any


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
            body = body.split("\nPeak RSS is", 1)[0].split("\n## ", 1)[0]  # the closing note is written again
            title = title if "earlier run" in title else " (earlier run, not re-measured here)"
            return ["## Reaper and capacity" + title, body.rstrip()]
        return ["## Reaper and capacity", "", "Not measured in this run (`--skip-reaper-capacity`)."]
    reaper, capacity, reaped = found["reaper"], found["capacity"], found["reaped"]
    stuck = found["stuck"]
    return [
        f"## Reaper and capacity ({found['started']})",
        "",
        "| task | wall time | result | peak RSS |",
        "|---|---|---|---|",
        f"| stuck-run reaper (real) | {float(reaper['seconds']):.1f} s | {reaper['counts']} "
        f"(truth: {len(stuck['ends']):,}) | {float(reaper['rss_mb']):.0f} MB |",
        f"| capacity check | {float(capacity['seconds']):.1f} s | state {capacity['state']}, "
        f"counts {capacity['counts']} | {float(capacity['rss_mb']):.0f} MB |",
        "",
        f"Stuck-run truth (SQL on the store: RUNNING, newest of any metric value, end_time and start more than "
        f"24 h old): **{len(stuck['ends']):,}** runs, of which the earlier rule (no end_time, no latest metric "
        f"within 24 h) found {stuck['earlier_rule']:,}: the rest are runs resumed and killed, RUNNING with their old "
        f"end_time. After the reaper, {reaped['tagged']:,} runs carry `mlopsadmin.reaped=true`; "
        f"**{reaped['exact_end_time']:,}** of them are FAILED with end_time equal to their last sign of life; "
        f"{reaped['not_stuck']} were not stuck.",
    ]


def _execute_section(found: dict[str, Any]) -> list[str]:
    if "execute" not in found:
        return []
    run = found["execute"]
    purge = run["purge"]
    freed = purge.get("artifact_bytes_freed", 0)
    seconds, purge_s = float(run["seconds"]), float(run["purge_seconds"])
    deleted = int(run["counts"].get("deleted", 0))
    return [
        "",
        f"## Execute and purge the backend-store plan ({run.get('started', found['started'])}–"
        f"{run.get('finished', '')})",
        "",
        f"Machine load (`uptime`): {run['load_start']} at the start, {run['load_end']} at the end; 1-minute load "
        f"sampled every 5 s during it: {run['load_during']}.",
        "",
        "| step | wall time | per run | result |",
        "|---|---|---|---|",
        f"| execute: soft delete through the tracking API, each run re-checked (fresh `get_run`, model-version "
        f"sources) and audited | {seconds - purge_s:.1f} s | {1000 * (seconds - purge_s) / max(1, deleted):.0f} ms "
        f"| {run['counts']} of {run['planned']:,} planned; state {run['state']} |",
        f"| purge: hard delete of exactly those runs in verified chunks of 200, artifacts measured | "
        f"{purge_s:.1f} s | {1000 * purge_s / max(1, int(purge.get('runs_purged', 0) or 1)):.0f} ms | "
        f"{purge.get('runs_purged', 0):,} purged; artifact bytes freed (measured) {freed:,}"
        f" vs on disk before {run['bytes_on_disk']:,} (left on disk: {run['left_on_disk']:,}); plan estimate "
        f"{purge.get('artifact_bytes_estimated', 0):,}; surprise: {purge.get('surprise') or 'none'} |",
        "",
        f"Store afterwards: {run['gone_planned']:,} of the {run['planned']:,} planned runs are gone from the store, "
        f"{run['gone_unplanned']} other runs are gone. Peak RSS of the worker process: "
        f"{float(run['rss_mb']):.0f} MB. Errors: {run['errors'] or 'none'}.",
    ]


def _baseline_section(found: dict[str, Any], truth: set[str]) -> list[str]:
    if "baseline" not in found:
        return []
    base = found["baseline"]
    now_store = [found["plan_store"], *base["store_now"]]

    def seconds(runs: list[dict[str, Any]]) -> str:
        return ", ".join(f"{float(r['seconds']):.1f} s" for r in runs)

    def exact(runs: list[dict[str, Any]]) -> str:
        return "all equal to the ground truth" if all(set(r["candidates"]) == truth for r in runs) else "MISMATCH"

    return [
        "",
        "## Before / after this change, same server and store, interleaved",
        "",
        "| plan | earlier tree (`--baseline`) | this tree |",
        "|---|---|---|",
        f"| backend store, worker handler | {seconds(base['store'])} ({exact(base['store'])}) | "
        f"{seconds(now_store)} ({exact(now_store)}) |",
        f"| tracking API, worker handler | {seconds(base['api'])} ({exact(base['api'])}) | "
        f"{seconds([found['plan_api']])} ({exact([found['plan_api']])}) |",
        "",
        "Order: earlier-store, this-store, earlier-store, this-store, earlier-API, this-API. The plans differ only in "
        "the reason text of RUNNING exclusions (the stuck-run rule).",
    ]


def report(
    found: dict[str, Any], stats: dict[str, int], generate_s: float, args: argparse.Namespace, previous: str
) -> str:
    """The whole results file from one run's measurements (`previous`: the file before, whose reaper
    section is kept when the reaper was not measured)."""
    truth, backed = set(found["truth"]), set(found["backed"])
    guide, guide_full = found["guide"], found["guide_full"]
    store, api = found["plan_store"], found["plan_api"]
    ratio = float(guide["seconds"]) / float(store["seconds"])
    same = store["items_sha"] == api["items_sha"]
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
        + (" --skip-execute" if args.skip_execute else "")
        + (f" --baseline {args.baseline}" if args.baseline else "")
        + "`.",
        "",
        f"Machine load (1/5/15-minute load average, `uptime`): {found['load_start']} at the start, "
        f"{found['load_end']} at the end; 1-minute load sampled every 5 s during the four cleanup measurements: "
        f"{found['load_during']}.",
        "",
        f"Ground truth (SQL on the store, same cutoff as both plans): **{len(truth):,}** cleanup candidates "
        "(FAILED/KILLED, ended > 90 days ago, not keep=true in any case, not a model-version source); "
        f"**{len(found['stuck']['ends']):,}** stuck runs (RUNNING, last sign of life more than 24 h ago).",
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
        *_baseline_section(found, truth),
        "",
        *_reaper_section(found, previous),
        *_execute_section(found),
        "",
        "Peak RSS is `ru_maxrss` of the child process that ran each task handler exactly as the Celery worker does "
        "(Django and the MLflow client imported, runs streamed through a bounded queue); the 300 MB budget holds "
        f"when every figure above is below it. Of that, {float(found['idle']['rss_mb']):.0f} MB is the same "
        "process before any task (Django set up, the MLflow gateway imported).",
    ]
    return "\n".join(lines) + "\n"
