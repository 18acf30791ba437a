"""Writes bench/results/maintenance_side_by_side.md from bench/maintenance_side_by_side.py's figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _ratio(bare: float, mine: float) -> str:
    return f"mlopsadmin {mine / bare:.1f}× the bare time" if bare else "–"


def write(path: Path, results: list[dict[str, Any]], stats: dict[str, int], when: str, command: str) -> None:
    """The results file: one table (reaper, soft delete, purge) with both sides' times, their ratio, the
    load during each side and what each left in the store."""
    bare, mine = results
    ex_b, ex_m = bare["execute"], mine["execute"]
    purge = ex_m.get("purge") or {}
    execute_m = ex_m["seconds"] - ex_m.get("purge_seconds", 0)
    lines = [
        "# Execute, purge and reaping side by side with the bare alternative",
        "",
        f"Store: {stats.get('runs', 0):,} runs in {stats.get('experiments', 0)} experiments "
        "(bench/maintenance_store.py), "
        "SQLite backend, `mlflow server` with 2 gunicorn workers, on this shared 2-core machine, plus one experiment "
        "of 5 old FAILED runs soft-deleted by its team (not purged) before each side. Each side starts from the same "
        f"pristine copy of the store. Measured {when}. Command: `python bench/maintenance_side_by_side.py {command}`.",
        "",
        f"**Load** (1/5/15-minute load average): bare side {bare['load_start']} at the start, {bare['load_end']} at "
        f"the end, 1-minute load every 5 s during it {bare['load_during']}; mlopsadmin side {mine['load_start']} at "
        f"the start, {mine['load_end']} at the end, during it {mine['load_during']}. Other helpers shared the "
        "cores: compare the two columns of one table, not these times with other files.",
        "",
        "Bare = what the ops guide has a user run: its stuck-run loop (RUNNING, no end_time, started > 24 h ago → "
        "`set_terminated(FAILED)`), `delete_run` for each run of the candidate list (no re-check, no audit), then "
        "`mlflow gc --backend-store-uri … --run-ids <list>`. mlopsadmin = the reaper task, then the cleanup plan "
        "(backend store) executed with purge, each in a child process exactly as the Celery worker runs it.",
        "",
        "| step | bare | mlopsadmin | time ratio | what each left (SQL on the store afterwards) |",
        "|---|---|---|---|---|",
        f"| reap stuck runs | {bare['reaper']['seconds']:.1f} s | {mine['reaper']['seconds']:.1f} s | "
        f"{_ratio(bare['reaper']['seconds'], mine['reaper']['seconds'])} | truly stuck (SQL: RUNNING, last sign of "
        f"life > 24 h): {bare['stuck']} / {mine['stuck']}. Bare ended {bare['reaped']['ended']}: "
        f"{bare['reaped']['stuck_ended']} stuck, **{bare['reaped']['alive_ended']} alive runs killed**, "
        f"**{bare['reaped']['stuck_missed']} stuck runs missed** (resumed runs keep an old end_time), "
        f"{bare['reaped']['end_time_now']} stamped end_time = now. mlopsadmin reaped {mine['reaped']['tagged']}, "
        f"{mine['reaped']['exact_end_time']} with end_time = last sign of life, "
        f"{mine['reaped']['not_stuck']} not stuck |",
        f"| soft delete of the candidates | {ex_b['delete_seconds']:.1f} s ({bare['planned']:,} runs, "
        f"{1000 * ex_b['delete_seconds'] / max(1, bare['planned']):.0f} ms/run) | {execute_m:.1f} s "
        f"({mine['planned']:,} runs, {1000 * execute_m / max(1, mine['planned']):.0f} ms/run; each re-checked "
        f"and audited) | per run: mlopsadmin "
        f"{(execute_m / max(1, mine['planned'])) / max(1e-9, ex_b['delete_seconds'] / max(1, bare['planned'])):.1f}× "
        "the bare time | "
        f"mlopsadmin counts {ex_m.get('counts')} |",
        f"| purge (hard delete + artifacts) | {ex_b['gc_seconds']:.1f} s (`mlflow gc`) | "
        f"{ex_m.get('purge_seconds', 0):.1f} s (verified chunks of 200) | "
        f"{_ratio(ex_b['gc_seconds'], ex_m.get('purge_seconds', 0))} | planned runs gone: {bare['gone_planned']:,} "
        f"of {bare['planned']:,} / {mine['gone_planned']:,} of {mine['planned']:,}; **unplanned runs gone: "
        f"{bare['gone_unplanned']} / {mine['gone_unplanned']}; experiments gone: {bare['experiments_gone']} / "
        f"{mine['experiments_gone']}**; artifact bytes left of the planned runs: {bare['left_on_disk']:,} of "
        f"{bare['bytes_on_disk']:,} / {mine['left_on_disk']:,} of {mine['bytes_on_disk']:,}; mlopsadmin reports "
        f"{purge.get('artifact_bytes_freed', 0):,} bytes freed (measured), "
        f"surprise: {purge.get('surprise') or 'none'}; "
        "`mlflow gc` reports nothing |",
        "",
        f"Peak RSS of mlopsadmin's worker child: reaper {mine['reaper'].get('rss_mb', 0):.0f} MB, execute + purge "
        f"{ex_m.get('rss_mb', 0):.0f} MB (`import mlflow` alone is about 200 MB in this environment, MLflow's SQL "
        "store layer for the purge another 50 MB).",
        "",
        "The two sides' candidate lists differ by design: the guide's loop ends stuck runs at *now* (they leave "
        "the 90-day window), mlopsadmin's reaper ends them at their last sign of life, so the stuck runs that "
        "went silent long ago are candidates of the plan made right after it.",
        "",
    ]
    path.write_text("\n".join(lines))
