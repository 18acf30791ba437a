"""Ground truth for bench/maintenance_bench.py, read with plain SQL from the generated SQLite store and from
the artifact folders: the cleanup candidates, the stuck runs and their last sign of life, what a run left in
the store."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

DAY_MS = 86_400_000


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


def stuck_truth(db: Path) -> dict[str, Any]:
    """The stuck runs by SQL on the store: RUNNING, and the newest of every metric value's timestamp, the
    end_time (a resumed run keeps its old one) and the start is more than 24 h old → {run id: that time}.
    Also how many of them the earlier rule (no end_time, no latest metric within 24 h) found."""
    cutoff = int(time.time() * 1000) - DAY_MS
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT run_uuid, life, end_time IS NULL AND latest < ? FROM (SELECT r.run_uuid, r.end_time, "
        "max(r.start_time, COALESCE(r.end_time, 0), COALESCE((SELECT max(m.timestamp) FROM metrics m "
        "WHERE m.run_uuid = r.run_uuid), 0)) AS life, COALESCE((SELECT max(l.timestamp) FROM latest_metrics l "
        "WHERE l.run_uuid = r.run_uuid), 0) AS latest FROM runs r WHERE r.status = 'RUNNING' "
        "AND r.lifecycle_stage = 'active' AND r.start_time < ?) WHERE life < ?",
        [cutoff, cutoff, cutoff],
    ).fetchall()
    conn.close()
    return {"ends": {run_id: int(life) for run_id, life, _ in rows}, "earlier_rule": sum(1 for *_, old in rows if old)}


def reaped_check(db: Path, ends: dict[str, int]) -> dict[str, int]:
    """After the reaper: how many of the stuck runs are FAILED with end_time = their last sign of life and
    tagged mlopsadmin.reaped=true (and anything reaped that was not stuck)."""
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT r.run_uuid, r.status, r.end_time FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
        "AND t.key = 'mlopsadmin.reaped' AND t.value = 'true'"
    ).fetchall()
    conn.close()
    exact = sum(1 for run_id, status, end in rows if status == "FAILED" and ends.get(run_id) == end)
    return {"tagged": len(rows), "exact_end_time": exact, "not_stuck": sum(1 for r in rows if r[0] not in ends)}


def store_runs(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    found = {row[0] for row in conn.execute("SELECT run_uuid FROM runs")}
    conn.close()
    return found


def artifact_bytes(workdir: Path, run_ids: set[str]) -> int:
    """Bytes on disk under these runs' artifact folders (the generator writes them; truth for 'freed')."""
    total = 0
    for folder in (workdir / "artifacts").glob("*/*"):
        if folder.name in run_ids:
            total += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return total
