"""A large MLflow store for the maintenance benchmark, written straight into a SQLite backend.

`python -m mlflow db upgrade` creates the schema (a subprocess: mlopsadmin never imports mlflow outside
its gateway); rows are then inserted with sqlite3 in bulk, which takes seconds instead of the hours
100,000 runs would take over REST. Shape (deterministic, seed 2026): experiments under the demo teams'
prefixes; runs 60% FINISHED, 25% FAILED, 10% KILLED, 5% RUNNING; ages uniform over a year; 6 tags,
4 params and 2 metrics per run; 2% tagged keep=true (mixed case); a small artifact file for 10% of runs.
A tenth of the finished runs were resumed (`mlflow.start_run(run_id=…)`) by a script that was killed: RUNNING
with their old end_time, half of them still logging (a metric within the last hour), half silent since their
resume (a metric logged between the old end and two days ago).

    python bench/maintenance_store.py --runs 100000 --experiments 100 --out var/bench-maintenance
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

DAY_MS = 86_400_000
PREFIXES = ["/search-team", "/fraud-team", "/rec-team", "/churn-team"]


def create_schema(db_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "mlflow", "db", "upgrade", f"sqlite:///{db_path}"],
        check=True,
        capture_output=True,
        text=True,
    )


def insert_runs(
    conn: sqlite3.Connection,
    runs: list[tuple[object, ...]],
    tags: list[tuple[object, ...]],
    params: list[tuple[object, ...]],
    metrics: list[tuple[object, ...]],
    latest: list[tuple[object, ...]],
) -> None:
    """Rows of MLflow's run tables: runs (13 columns, as below), tags and params (key, value, run),
    metrics (key, value, timestamp, run, step, is_nan), latest_metrics (key, value, timestamp, step, is_nan, run)."""
    conn.executemany(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, "
        "status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        runs,
    )
    conn.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags)
    conn.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params)
    conn.executemany(
        "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)", metrics
    )
    conn.executemany(
        "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)", latest
    )


def generate(out: Path, *, runs: int, experiments: int, seed: int = 2026) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    db_path = out / "mlflow.db"
    if db_path.exists():
        db_path.unlink()
    create_schema(db_path)
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    artifacts = out / "artifacts"
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    exp_rows = []
    for index in range(1, experiments + 1):
        prefix = PREFIXES[index % len(PREFIXES)]
        exp_rows.append(
            (
                index,
                f"{prefix}/project-{index:03d}/sweep",
                (artifacts / str(index)).as_uri(),
                "active",
                now - 400 * DAY_MS,
                now,
            )
        )
    conn.executemany(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
        "creation_time, last_update_time) VALUES (?, ?, ?, ?, ?, ?)",
        exp_rows,
    )
    stats = {"runs": 0, "files": 0}
    per_experiment = runs // experiments
    for exp_id in range(1, experiments + 1):
        run_rows, tag_rows, param_rows, metric_rows, latest_rows = [], [], [], [], []
        for index in range(per_experiment):
            run_id = uuid.UUID(int=rng.getrandbits(128)).hex
            status = rng.choices(["FINISHED", "FAILED", "KILLED", "RUNNING"], weights=[60, 25, 10, 5])[0]
            start = now - int(rng.uniform(0.01, 365) * DAY_MS)
            end = None if status == "RUNNING" else start + rng.randint(60_000, 6 * 3_600_000)
            resumed = status == "FINISHED" and rng.random() < 0.1 and end is not None and end < now - 2 * DAY_MS
            status = "RUNNING" if resumed else status  # resumed and killed: RUNNING, the old end_time kept
            run_rows.append(
                (
                    run_id,
                    f"run-{index:05d}",
                    "LOCAL",
                    "train.py",
                    "",
                    "bench",
                    status,
                    start,
                    end,
                    "",
                    "active",
                    f"{(artifacts / str(exp_id)).as_uri()}/{run_id}/artifacts",
                    exp_id,
                )
            )
            tags = {
                "team": PREFIXES[exp_id % 4].strip("/"),
                "owner": "bench@example.com",
                "git.commit": f"{rng.getrandbits(40):010x}",
                "data.version": "v1",
                "environment": "cpu",
                "mlflow.runName": f"run-{index:05d}",
            }
            if rng.random() < 0.02:
                tags["keep"] = rng.choice(["true", "True", "TRUE"])
            tag_rows += [(k, v, run_id) for k, v in tags.items()]
            param_rows += [
                (k, v, run_id)
                for k, v in {"lr": "1e-4", "batch_size": "64", "epochs": "10", "optimizer": "AdamW"}.items()
            ]
            metric_time = (
                start + 60_000
                if status != "RUNNING" or resumed or rng.random() < 0.5
                else now - rng.randint(60_000, 3_600_000)
            )  # half the RUNNING runs still log (recent metric)
            if resumed and end is not None:  # its resumed life logged a metric: within the hour, or days ago
                alive = rng.random() < 0.5
                metric_time = now - rng.randint(60_000, 3_600_000) if alive else rng.randint(end, now - 2 * DAY_MS)
            for key, value in (("loss", rng.random()), ("val_ndcg_at_10", rng.random())):
                metric_rows.append((key, value, metric_time, run_id, 0, 0))
                latest_rows.append((key, value, metric_time, 0, 0, run_id))
            if rng.random() < 0.1:
                folder = artifacts / str(exp_id) / run_id / "artifacts"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "model.bin").write_bytes(b"\0" * rng.randint(1_000, 50_000))
                stats["files"] += 1
        insert_runs(conn, run_rows, tag_rows, param_rows, metric_rows, latest_rows)
        stats["runs"] += len(run_rows)
    conn.commit()
    conn.close()
    return stats


def add_stuck_sets(
    db_path: Path, *, sets: int, runs_per_set: int, experiments_per_set: int = 4, seed: int = 2027
) -> list[list[str]]:
    """The reaper stage's own stuck runs (bench/bulk_actions.py): `sets` equal sets of `experiments_per_set` new
    experiments ("/reaper-bench/set-NN-eK") holding `runs_per_set` RUNNING runs between them, none with an end
    time, started 2-300 days ago, their two metrics logged a minute after the start (stuck by the reaper's rule and
    by the guide's loop alike), into the store `db_path` (a live one: the server reads them at once). Returns
    each set's experiment ids."""
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    artifacts = db_path.parent / "artifacts"
    conn = sqlite3.connect(db_path)
    first = int(conn.execute("SELECT max(experiment_id) FROM experiments").fetchone()[0]) + 1
    found: list[list[str]] = []
    for number in range(sets):
        ids = list(range(first + number * experiments_per_set, first + (number + 1) * experiments_per_set))
        conn.executemany(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
            "creation_time, last_update_time) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (e, f"/reaper-bench/set-{number:02d}-e{e}", (artifacts / str(e)).as_uri(), "active", now, now)
                for e in ids
            ],
        )
        run_rows, tag_rows, metric_rows, latest_rows = [], [], [], []
        for index in range(runs_per_set):
            exp_id = ids[index % len(ids)]
            run_id = uuid.UUID(int=rng.getrandbits(128)).hex
            start = now - int(rng.uniform(2, 300) * DAY_MS)
            uri = f"{(artifacts / str(exp_id)).as_uri()}/{run_id}/artifacts"
            name = f"stuck-{index:05d}"
            row = (run_id, name, "LOCAL", "train.py", "", "bench", "RUNNING", start, None, "", "active", uri, exp_id)
            run_rows.append(row)
            tag_rows += [(k, v, run_id) for k, v in {"team": "reaper-bench", "mlflow.runName": name}.items()]
            for key, value in (("loss", rng.random()), ("val_ndcg_at_10", rng.random())):
                metric_rows.append((key, value, start + 60_000, run_id, 0, 0))
                latest_rows.append((key, value, start + 60_000, 0, 0, run_id))
        insert_runs(conn, run_rows, tag_rows, [], metric_rows, latest_rows)
        found.append([str(e) for e in ids])
    conn.commit()
    conn.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--experiments", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("var/bench-maintenance"))
    args = parser.parse_args()
    started = time.perf_counter()
    stats = generate(args.out, runs=args.runs, experiments=args.experiments)
    print(
        f"{stats['runs']} runs, {stats['files']} artifact files in {time.perf_counter() - started:.1f} s "
        f"→ {args.out / 'mlflow.db'}"
    )


if __name__ == "__main__":
    main()
