"""A large model registry for the registry-pages benchmark, written straight into a SQLite MLflow store.

`python -m mlflow db upgrade` creates the schema (a subprocess: mlopsadmin never imports mlflow outside its
gateway); rows are inserted with sqlite3 in bulk (seconds, where 20,000 versions over REST take an hour on
this machine). Shape (deterministic, seed 2026): `models` registered models holding `versions` versions in
all, among them `big-model` with `big` versions and `small-model` with 25; every version has its own
FINISHED source run (2 latest metrics, 4 params, 3 tags; the two named models' runs also have a 10-step
history of the gate metric), version tags `training_data` / `training_commit` (80 %) / `validation_ndcg`,
and half of the models `@champion` and `@challenger`.

    python bench/registry_store.py --models 1000 --versions 20000 --big 1000 --out /tmp/bench-registry
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.maintenance_store import create_schema, insert_runs  # noqa: E402

DAY_MS = 86_400_000
BIG, SMALL = "search-big-model", "search-small-model"
GATE_METRIC = "val_ndcg_at_10"


def plan_models(models: int, versions: int, big: int) -> list[tuple[str, int]]:
    """(name, number of versions) of every model: the big one, the small one, the rest spread evenly."""
    rest_models = max(0, models - 2)
    rest_versions = max(rest_models, versions - big - 25)
    per, extra = divmod(rest_versions, rest_models) if rest_models else (0, 0)
    names = [(BIG, big), (SMALL, 25)]
    names += [(f"search-model-{i:04d}", per + (1 if i < extra else 0)) for i in range(rest_models)]
    return names


def generate(out: Path, *, models: int, versions: int, big: int, seed: int = 2026) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    db_path = out / "mlflow.db"
    if db_path.exists():
        db_path.unlink()
    create_schema(db_path)
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    artifacts = (out / "artifacts").as_uri()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    experiments = max(1, models // 20)
    conn.executemany(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
        "last_update_time) VALUES (?, ?, ?, 'active', ?, ?)",
        [
            (i, f"/search-team/registry-bench/exp-{i:03d}", f"{artifacts}/{i}", now - 400 * DAY_MS, now)
            for i in range(1, experiments + 1)
        ],
    )
    stats = {"models": 0, "versions": 0, "runs": 0}
    for index, (name, count) in enumerate(plan_models(models, versions, big)):
        exp_id = 1 + index % experiments
        created = now - 300 * DAY_MS + index * 1000
        runs, tags, params, metrics, latest, mversions, vtags = [], [], [], [], [], [], []
        for number in range(1, count + 1):
            run_id = uuid.UUID(int=rng.getrandbits(128)).hex
            start = created + number * 3_600_000
            runs.append(
                (
                    run_id,
                    f"train-{number}",
                    "LOCAL",
                    "train.py",
                    "",
                    "bench",
                    "FINISHED",
                    start,
                    start + 1_800_000,
                    "",
                    "active",
                    f"{artifacts}/{exp_id}/{run_id}/artifacts",
                    exp_id,
                )
            )
            tags += [
                (k, v, run_id)
                for k, v in (
                    ("git.commit", f"{rng.getrandbits(40):010x}"),
                    ("data.version", f"v{number}"),
                    ("mlflow.runName", f"train-{number}"),
                )
            ]
            params += [
                (k, v, run_id)
                for k, v in (("lr", "3e-5"), ("batch_size", "64"), ("epochs", "10"), ("optimizer", "AdamW"))
            ]
            score = round(0.7 + rng.random() * 0.2, 4)
            steps = 10 if name in (BIG, SMALL) else 1
            for step in range(steps):
                metrics.append(
                    (GATE_METRIC, round(score - (steps - 1 - step) * 0.01, 4), start + step, run_id, step, 0)
                )
            metrics.append(("loss", round(rng.random(), 4), start, run_id, 0, 0))
            latest += [
                (GATE_METRIC, score, start + steps - 1, steps - 1, 0, run_id),
                ("loss", metrics[-1][1], start, 0, 0, run_id),
            ]
            mversions.append(
                (
                    name,
                    number,
                    start,
                    start,
                    "",
                    "bench",
                    "None",
                    f"runs:/{run_id}/model",
                    run_id,
                    "READY",
                    "",
                    "",
                    None,
                )
            )
            vtags.append(("training_data", f"s3://data/{name}/{number}/", name, number))
            if rng.random() < 0.8:
                vtags.append(("training_commit", f"{rng.getrandbits(40):010x}", name, number))
            vtags.append(("validation_ndcg", str(score), name, number))
        last = created + count * 3_600_000
        conn.execute(
            "INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?, ?, ?, ?)",
            (name, created, last, f"Bench model {name}."),
        )
        insert_runs(conn, runs, tags, params, metrics, latest)
        conn.executemany(
            "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, "
            "current_stage, source, run_id, status, status_message, run_link, storage_location)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            mversions,
        )
        conn.executemany("INSERT INTO model_version_tags (key, value, name, version) VALUES (?, ?, ?, ?)", vtags)
        if index % 2 == 0 and count >= 2:
            conn.executemany(
                "INSERT INTO registered_model_aliases (alias, version, name) VALUES (?, ?, ?)",
                [("champion", count - 1, name), ("challenger", count, name)],
            )
        stats["models"] += 1
        stats["versions"] += count
        stats["runs"] += count
    conn.commit()
    conn.close()
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=20_000)
    parser.add_argument("--big", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("var/bench-registry"))
    args = parser.parse_args()
    started = time.perf_counter()
    stats = generate(args.out, models=args.models, versions=args.versions, big=args.big)
    print(f"{stats} in {time.perf_counter() - started:.1f} s → {args.out / 'mlflow.db'}")


if __name__ == "__main__":
    main()
