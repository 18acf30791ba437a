"""Generate a large MLflow store for benchmarks (catalog, maintenance).

    python bench/generate_store.py --tracking-uri http://127.0.0.1:5000 --scale 1

Scale 1 ≈ 2,000 experiments / 100,000 runs. Runs go through the mlopsadmin gateway (create_run with
tags and start time, log_batch with a few metrics/params, set_terminated), from a pool of threads.
The store is realistic for the catalog and the maintenance tools: ~80 % compliant names across the
demo teams' prefixes plus flat / unknown-prefix / badly cased / reserved-word names; runs FINISHED /
FAILED / KILLED with ages up to ~2 years, ~1 % left RUNNING (stuck, started days ago), ~2 % tagged
keep=true; required tags present on ~75 % of runs, each missing independently otherwise.

`plan(scale, seed)` is deterministic and cheap (no I/O): other benchmarks use it to know what the store
holds, or to fill a local index without a server (see bench/catalog_page.py).
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DAY_MS = 86_400_000
TEAMS = {"search": "/search-team", "fraud": "/fraud-team", "recommendation": "/rec-team", "churn": "/churn-team"}
PROJECTS = [
    "query-ranking",
    "autocomplete",
    "transaction-classifier",
    "item2vec",
    "churn-model",
    "embeddings",
    "reranker",
    "anomaly",
    "pricing",
    "forecast",
    "ctr",
    "spam-filter",
]
TYPES = [
    "bert-finetune",
    "xgboost-baseline",
    "hyperopt-sweep",
    "weekly-retrain",
    "feature-sweep",
    "ablation",
    "distillation",
    "lstm-baseline",
]
REQUIRED_TAGS = ["team", "owner", "git.commit", "data.version", "environment", "purpose"]
EXPERIMENTS_PER_SCALE = 2000
RUNS_PER_SCALE = 100_000


@dataclass(frozen=True)
class RunPlan:
    index: int
    status: str  # FINISHED, FAILED, KILLED, RUNNING
    age_days: float
    tags: dict[str, str]


@dataclass(frozen=True)
class ExperimentPlan:
    index: int
    name: str
    team: str | None
    run_count: int
    seed: int

    def runs(self, now_ms: int | None = None) -> Iterator[RunPlan]:
        """The runs of this experiment, generated lazily (never all held at once)."""
        rng = random.Random(self.seed)
        for i in range(self.run_count):
            roll = rng.random()
            status = "RUNNING" if roll < 0.01 else rng.choices(["FINISHED", "FAILED", "KILLED"], [7, 2, 1])[0]
            age = rng.uniform(2, 20) if status == "RUNNING" else rng.uniform(0.1, 720)
            tags: dict[str, str] = {}
            complete = rng.random() < 0.75
            values = {
                "team": self.team or rng.choice(list(TEAMS)),
                "owner": f"user{rng.randint(1, 80)}@example.com",
                "git.commit": f"{rng.getrandbits(32):08x}",
                "data.version": f"v2026.{rng.randint(1, 12):02d}",
                "environment": rng.choice(["gpu-a100", "cpu", "gpu-t4"]),
                "purpose": rng.choice(["tuning", "baseline", "ablation", "retrain"]),
            }
            for key in REQUIRED_TAGS:
                if complete or rng.random() < 0.6:
                    if key == "team" and self.team is None and rng.random() < 0.5:
                        continue
                    tags[key] = values[key]
            if rng.random() < 0.02:
                tags["keep"] = "true"
            yield RunPlan(index=i, status=status, age_days=age, tags=tags)


def _name(rng: random.Random, index: int, label: str) -> tuple[str, str | None]:
    team = rng.choice(list(TEAMS))
    project, kind = rng.choice(PROJECTS), rng.choice(TYPES)
    roll = rng.random()
    if roll < 0.80:
        return f"{TEAMS[team]}/{project}/{kind}-{label}{index}", team
    if roll < 0.86:
        return f"{rng.choice(['experiment', 'johns_experiment', 'model', 'run'])}_{label}{index}", (
            team if rng.random() < 0.7 else None
        )
    if roll < 0.91:
        return f"/{team}/{project}/{kind}-{label}{index}", team  # unknown prefix (team key, not prefix)
    if roll < 0.96:
        return f"{TEAMS[team]}/{project.title().replace('-', '')}_{label}{index}", team  # casing + segments
    return f"{TEAMS[team]}/tmp/test-{label}{index}", team  # reserved words


def plan(scale: float, *, seed: int = 42, label: str = "") -> list[ExperimentPlan]:
    """Experiments with a skewed run count (a few big ones, many small), summing to ≈ scale × 100,000."""
    rng = random.Random(seed)
    count = max(1, round(EXPERIMENTS_PER_SCALE * scale))
    total_runs = round(RUNS_PER_SCALE * scale)
    weights = [rng.paretovariate(1.6) for _ in range(count)]
    factor = total_runs / sum(weights)
    plans = []
    for index, weight in enumerate(weights):
        name, team = _name(rng, index, label)
        plans.append(
            ExperimentPlan(
                index=index, name=name, team=team, run_count=max(1, round(weight * factor)), seed=rng.getrandbits(32)
            )
        )
    return plans


class Progress:
    def __init__(self, total: int) -> None:
        self.total, self.done, self.lock, self.started = total, 0, threading.Lock(), time.perf_counter()
        self.last = 0.0

    def add(self, n: int) -> None:
        with self.lock:
            self.done += n
            now = time.perf_counter()
            if now - self.last > 10 or self.done == self.total:
                self.last = now
                rate = self.done / max(now - self.started, 1e-9)
                print(f"  {self.done}/{self.total} runs ({rate:.0f} runs/s)", flush=True)


def _write_experiment(exp: ExperimentPlan, now_ms: int, progress: Progress, metrics: bool) -> None:
    from mlopsadmin.lib import mlflow_client as mlf

    existing = mlf.get_experiment_by_name(exp.name)
    experiment_id = (
        existing.experiment_id if existing else mlf.create_experiment(exp.name, tags={"mlopsadmin.bench": "true"})
    )
    if existing:  # already generated (re-run): leave it alone
        progress.add(exp.run_count)
        return
    batch = 0
    for run in exp.runs():
        start_ms = int(now_ms - run.age_days * DAY_MS)
        run_id = mlf.create_run(experiment_id, run_name=f"run-{run.index:05d}", tags=run.tags, start_time=start_ms)
        if metrics:
            mlf.log_batch(
                run_id,
                metrics=[("val_ndcg_at_10", round(0.6 + (run.index % 30) / 100, 4), start_ms + 60_000, 0)],
                params={"learning_rate": "3e-5", "batch_size": "64"},
            )
        if run.status != "RUNNING":
            mlf.set_terminated(run_id, status=run.status, end_time=start_ms + 11 * 60_000)
        batch += 1
        if batch == 100:
            progress.add(batch)
            batch = 0
    progress.add(batch)


def generate(
    tracking_uri: str, scale: float, *, workers: int = 8, seed: int = 42, label: str = "", metrics: bool = True
) -> dict[str, float]:
    """Write the planned store into the tracking server at `tracking_uri` (Django must be set up)."""
    from django.conf import settings

    settings.MLFLOW_TRACKING_URI = tracking_uri
    plans = plan(scale, seed=seed, label=label)
    total = sum(p.run_count for p in plans)
    progress = Progress(total)
    now_ms = int(time.time() * 1000)
    started = time.perf_counter()
    print(f"generating {len(plans)} experiments / {total} runs into {tracking_uri} with {workers} threads", flush=True)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [
            pool.submit(_write_experiment, p, now_ms, progress, metrics)
            for p in sorted(plans, key=lambda p: -p.run_count)
        ]:
            future.result()
    seconds = time.perf_counter() - started
    print(f"done in {seconds:.0f} s ({total / seconds:.0f} runs/s)", flush=True)
    return {"experiments": len(plans), "runs": total, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracking-uri", required=True, help="MLflow tracking server URL to write into")
    parser.add_argument("--scale", type=float, default=1.0, help="1 ≈ 2,000 experiments / 100,000 runs")
    parser.add_argument("--workers", type=int, default=8, help="parallel writer threads")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--label", default="", help="name suffix, to generate a second store into one server")
    parser.add_argument("--no-metrics", action="store_true", help="skip log_batch (faster; runs carry tags only)")
    args = parser.parse_args()
    from bench._django import setup

    setup(migrate=False)
    generate(
        args.tracking_uri,
        args.scale,
        workers=args.workers,
        seed=args.seed,
        label=args.label,
        metrics=not args.no_metrics,
    )


if __name__ == "__main__":
    main()
