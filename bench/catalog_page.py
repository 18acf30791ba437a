"""Benchmark the experiment catalog: fill the local index at scale, then measure the catalog page's
server-side render time (Django test client, many requests with different filters) and the API.

    # index filled straight from the generator's plan (no MLflow needed), 2,000 experiments / 100,000 runs
    python bench/catalog_page.py --scale 1

    # index filled by syncing a store made by bench/generate_store.py (also measures the sync)
    python bench/catalog_page.py --tracking-uri http://127.0.0.1:5000 --scale 0.1

Target: P95 < 300 ms for 2,000 experiments / 100,000 runs. Results are appended to bench/results/catalog.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RESULTS = Path(__file__).resolve().parent / "results" / "catalog.md"

QUERIES = [
    "",
    "?team=search",
    "?team=fraud&sort=-runs",
    "?kind=flat",
    "?kind=unknown_prefix",
    "?kind=reserved",
    "?missing=owner",
    "?missing=purpose&team=churn",
    "?status=violations",
    "?status=tag_gaps&sort=-activity",
    "?q=bert",
    "?q=sweep&team=recommendation",
    "?project=query-ranking",
    "?sort=name&page=7",
    "?page=20",
    "?sort=-activity&page=3",
    "?deleted=1",
    "?team=-",
    "?status=compliant&sort=runs",
    "?q=tmp&kind=reserved",
]


def fill_from_plan(scale: float) -> dict[str, float]:
    """Write index rows and tag counts as a sync would, from the generator's deterministic plan."""
    from django.db import transaction

    from bench.generate_store import DAY_MS, TEAMS, plan
    from catalog.models import CatalogExperiment, CatalogTagCount
    from catalog.services import catalog_evaluate

    now_ms = int(time.time() * 1000)
    started = time.perf_counter()
    plans = plan(scale)
    runs = 0
    with transaction.atomic():
        for exp in plans:
            present: Counter[str] = Counter()
            teams: Counter[str] = Counter()
            last = 0
            for run in exp.runs():
                runs += 1
                present.update(run.tags.keys())
                if run.tags.get("team"):
                    teams[run.tags["team"]] += 1
                last = max(last, int(now_ms - run.age_days * DAY_MS))
            row = CatalogExperiment.objects.create(
                experiment_id=str(exp.index + 1),
                name=exp.name,
                run_count=exp.run_count,
                last_activity=datetime.fromtimestamp(last / 1000, tz=UTC),
                lifecycle_stage="deleted" if exp.index % 97 == 0 else "active",
                dominant_team_tag=teams.most_common(1)[0][0] if teams else "",
            )
            CatalogTagCount.objects.bulk_create(
                [CatalogTagCount(experiment=row, tag=t, present=c) for t, c in present.items()]
            )
    filled = time.perf_counter() - started
    started = time.perf_counter()
    catalog_evaluate()
    evaluated = time.perf_counter() - started
    assert set(TEAMS)  # teams are created by setup_teams()
    return {"experiments": len(plans), "runs": runs, "fill_seconds": filled, "evaluate_seconds": evaluated}


def fill_by_sync(tracking_uri: str) -> dict[str, float]:
    from django.conf import settings

    from catalog.sync import catalog_sync

    settings.MLFLOW_TRACKING_URI = settings.MLFLOW_UI_URL = tracking_uri
    full = catalog_sync(full=True)
    again = catalog_sync(full=False)
    started = time.perf_counter()
    from catalog.services import catalog_evaluate

    catalog_evaluate()
    return {
        "experiments": full.experiments,
        "runs": full.runs,
        "full_sync_seconds": full.seconds,
        "incremental_sync_seconds": again.seconds,
        "evaluate_seconds": time.perf_counter() - started,
        "workers": settings.CATALOG_SYNC_WORKERS,
    }


def setup_teams() -> object:
    from mlopsadmin.core.demo import SeedReport, seed_users_and_teams

    seed_users_and_teams(SeedReport())
    from django.contrib.auth.models import User

    return User.objects.get(username="member_search")


def measure(user: object, requests: int) -> dict[str, dict[str, float]]:
    from django.test import Client

    client = Client()
    client.force_login(user)
    results: dict[str, dict[str, float]] = {}
    for label, prefix, headers in [
        ("page (full)", "/catalog/", {}),
        ("page (htmx table fragment)", "/catalog/", {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "catalog-table"}),
        ("API /api/v1/experiments", "/api/v1/experiments", {}),
    ]:
        for query in QUERIES[:3]:  # warm-up
            client.get(prefix + query, **headers)
        timings, cpu = [], []
        for i in range(requests):
            query = QUERIES[i % len(QUERIES)]
            started, started_cpu = time.perf_counter(), time.thread_time()
            response = client.get(prefix + query, **headers)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - started_cpu) * 1000)
            assert response.status_code == 200, (prefix + query, response.status_code)
        timings.sort()
        cpu.sort()
        results[label] = {
            "n": len(timings),
            "p50": statistics.median(timings),
            "p95": timings[int(0.95 * (len(timings) - 1))],
            "max": timings[-1],
            "cpu_p50": statistics.median(cpu),
            "cpu_p95": cpu[int(0.95 * (len(cpu) - 1))],
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--tracking-uri", default="", help="sync the index from this store instead of the plan")
    parser.add_argument("--requests", type=int, default=300, help="requests per measured endpoint")
    parser.add_argument("--no-write", action="store_true", help="do not append to bench/results/catalog.md")
    args = parser.parse_args()
    from bench._django import setup

    setup()
    user = setup_teams()
    fill = fill_by_sync(args.tracking_uri) if args.tracking_uri else fill_from_plan(args.scale)
    print("index:", {k: round(v, 2) if isinstance(v, float) else v for k, v in fill.items()}, flush=True)
    timings = measure(user, args.requests)
    for label, t in timings.items():
        print(
            f"{label}: n={t['n']:.0f} p50={t['p50']:.1f} ms p95={t['p95']:.1f} ms max={t['max']:.1f} ms "
            f"(CPU p50={t['cpu_p50']:.1f} ms p95={t['cpu_p95']:.1f} ms)"
        )
    if not args.no_write:
        write(args, fill, timings)


def write(args: argparse.Namespace, fill: dict[str, float], timings: dict[str, dict[str, float]]) -> None:
    from django.db import connection

    source = (
        f"synced from a generated store ({args.tracking_uri})"
        if args.tracking_uri
        else f"filled from the generator plan (--scale {args.scale})"
    )
    lines = [
        f"\n## {datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC — {fill['experiments']:.0f} experiments / "
        f"{fill['runs']:.0f} runs, index {source}, database {connection.vendor}\n"
    ]
    for key, value in fill.items():
        if key not in {"experiments", "runs"}:
            lines.append(
                f"- {key.replace('_', ' ')}: {value:.2f}"
                if isinstance(value, float)
                else f"- {key.replace('_', ' ')}: {value}"
            )
    lines.append(f"- load average when measured: {' / '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores)")
    lines.append(
        "\n| endpoint | requests | P50 ms | P95 ms | max ms | CPU P50 ms | CPU P95 ms |\n|---|---|---|---|---|---|---|"
    )
    for label, t in timings.items():
        lines.append(
            f"| {label} | {t['n']:.0f} | {t['p50']:.1f} | {t['p95']:.1f} | {t['max']:.1f} | "
            f"{t['cpu_p50']:.1f} | {t['cpu_p95']:.1f} |"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Experiment catalog benchmark\n\nWritten by `bench/catalog_page.py` (server-side time "
            "through the Django test client, 2-core machine shared with other work). "
            "Target: catalog page P95 < 300 ms at 2,000 experiments / 100,000 runs.\n"
        )
    with RESULTS.open("a") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
