"""Registry pages side by side with the bare MLflow calls for the same information (issue 20, case 2).

    python bench/registry_pages.py --models 1000 --versions 20000 --big 1000 --workdir /tmp/bench-registry

Builds a registry straight into a SQLite MLflow store (bench/registry_store.py; `--reuse-store` keeps it),
starts a real `mlflow server` on it (gunicorn, 2 workers, as the test fixture and the demo), fills the
registry index with a full sync (timed, then an incremental one with nothing changed), and measures in
ONE run, interleaved round by round on the same server:
  - the model page (`GET /registry/models/<name>/`, the Django stack in process, first page of 25
    versions with their gate metric, aliases, approval state, metadata completeness) against the bare calls
    a user makes for the same information: `get_registered_model` + `search_model_versions` (all versions of
    the model), and the same plus the 25 source runs' metrics (`search_runs`, `run_id IN (...)`);
  - the version page (`GET .../versions/<n>/`: lineage, gate, champion comparison) against
    `get_model_version` + `get_run`;
each for a model of 25 versions and one of `--big` versions, in a registry of `--models` models /
`--versions` versions. The bare calls go through the gateway's transport (faster than MLflow's own
client: a stricter yardstick). Writes bench/results/registry_pages.md with the machine's load.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _django  # noqa: E402
from bench.registry_store import BIG, GATE_METRIC, SMALL, generate  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "registry_pages.md"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def ms(fn: Callable[[], object]) -> float:
    """Milliseconds one call takes, after a garbage collection (neither side pays for the other's garbage)."""
    gc.collect()
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


class Loads:
    """The 1-minute load average, sampled at each round."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    def sample(self) -> None:
        self.samples.append(os.getloadavg()[0])

    def text(self) -> str:
        s = self.samples
        return f"min {min(s):.1f}, mean {statistics.mean(s):.1f}, max {max(s):.1f}" if s else "not sampled"


def measure(args: argparse.Namespace, url: str) -> list[str]:
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    from mlopsadmin.core.demo import SeedReport, seed_users_and_teams
    from mlopsadmin.lib import mlflow_client as mlf
    from mlopsadmin.lib import mlflow_filters
    from registry_ui.index_sync import registry_sync

    settings.MLFLOW_TRACKING_URI = settings.MLFLOW_UI_URL = url
    seed_users_and_teams(SeedReport())
    client = Client()
    client.force_login(User.objects.get(username="lead_search"))
    started = time.perf_counter()
    full = registry_sync(full=True)
    full_s = time.perf_counter() - started
    started = time.perf_counter()
    incremental = registry_sync(full=False)
    incremental_s = time.perf_counter() - started

    def page(path: str) -> Callable[[], object]:
        def get() -> None:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)

        return get

    def bare_model(name: str, with_runs: bool) -> Callable[[], object]:
        def calls() -> None:
            mlf.get_registered_model(name)
            versions = sorted(mlf.iter_model_versions(name=name), key=lambda v: -int(v.version))
            if with_runs:
                first = mlf.get_run(versions[0].run_id)
                ids = [v.run_id for v in versions[:25]]
                list(
                    mlf.iter_runs([first.experiment_id], filter_string=mlflow_filters.in_list("attributes.run_id", ids))
                )

        return calls

    def bare_version(name: str, number: str) -> Callable[[], object]:
        def calls() -> None:
            version = mlf.get_model_version(name, number)
            mlf.get_run(version.run_id)

        return calls

    sizes = {SMALL: 25, BIG: args.big}
    cases: list[tuple[str, Callable[[], object], list[tuple[str, Callable[[], object]]]]] = []
    for name in (SMALL, BIG):
        n = sizes[name]
        cases.append(
            (
                f"model page, {n:,} versions",
                page(f"/registry/models/{name}/"),
                [
                    ("`get_registered_model` + `search_model_versions`", bare_model(name, False)),
                    ("… + the page's 25 source runs (`search_runs`)", bare_model(name, True)),
                ],
            )
        )
        cases.append(
            (
                f"version page, v{n} of {n:,}",
                page(f"/registry/models/{name}/versions/{n}/"),
                [("`get_model_version` + `get_run`", bare_version(name, str(n)))],
            )
        )
    times: dict[str, list[float]] = {}
    loads = Loads()
    for _ in range(3):  # warm-up, all alike
        for _label, ours, bares in cases:
            ours()
            for _, bare in bares:
                bare()
    for _ in range(args.rounds):
        loads.sample()
        for label, ours, bares in cases:
            times.setdefault(label, []).append(ms(ours))
            for bare_label, bare in bares:
                times.setdefault(f"{label}|{bare_label}", []).append(ms(bare))
    return report(args, cases, times, loads, full, full_s, incremental, incremental_s)


def report(args, cases, times, loads, full, full_s, incremental, incremental_s) -> list[str]:  # type: ignore[no-untyped-def]
    lines = [
        "# Registry pages from the index vs the bare MLflow calls",
        "",
        f"Registry: {args.models:,} models / {args.versions:,} versions (one model of {args.big:,} versions, one "
        f"of 25; every version with its own source run), SQLite MLflow store written by bench/registry_store.py, "
        f"`mlflow server` with 2 gunicorn workers, {os.cpu_count()} CPUs shared with other work. Django on "
        f"{'PostgreSQL' if 'postgres' in os.environ.get('DATABASE_URL', '') else 'SQLite'}, pages through the "
        f"test client (whole Django stack, logged in as lead_search). {args.rounds} rounds, interleaved (each "
        "round: every page, then its bare calls). Measured "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Load average (1 min) during the rounds: "
        f"{loads.text()}. Command: `python bench/registry_pages.py --models {args.models} --versions "
        f"{args.versions} --big {args.big}`.",
        "",
        "| page | ours P50 / P95 ms | bare MLflow calls for the same information | bare P50 / P95 ms "
        "| ratio P50 / P95 |",
        "|---|---|---|---|---|",
    ]
    for label, _, bares in cases:
        ours = times[label]
        for bare_label, _ in bares:
            bare = times[f"{label}|{bare_label}"]
            lines.append(
                f"| {label} | {statistics.median(ours):.1f} / {percentile(ours, 95):.1f} | {bare_label} | "
                f"{statistics.median(bare):.1f} / {percentile(bare, 95):.1f} | "
                f"{statistics.median(ours) / statistics.median(bare):.2f}× / "
                f"{percentile(ours, 95) / percentile(bare, 95):.2f}× |"
            )
    small_model, big_model = times[cases[0][0]], times[cases[2][0]]
    small_version, big_version = times[cases[1][0]], times[cases[3][0]]
    lines += [
        "",
        f"Flat from 25 to {args.big:,} versions: model page P50 {statistics.median(small_model):.1f} → "
        f"{statistics.median(big_model):.1f} ms, version page P50 {statistics.median(small_version):.1f} → "
        f"{statistics.median(big_version):.1f} ms.",
        "",
        f"Index sync of this registry: full {full_s:.1f} s ({full.summary()}); incremental with nothing "
        f"changed {incremental_s:.1f} s ({incremental.summary()}).",
        "",
        "The version page's step chart (two `get_metric_history` calls) is loaded after the page by htmx and is "
        "not in these figures; the bare version-page calls do not read the champion or any history either.",
        f"Gate metric: `{GATE_METRIC}`.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=20_000)
    parser.add_argument("--big", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--workdir", type=Path, default=Path("var/bench-registry"))
    parser.add_argument("--reuse-store", action="store_true")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not (args.reuse_store and (args.workdir / "mlflow.db").exists()):
        started = time.perf_counter()
        print(generate(args.workdir, models=args.models, versions=args.versions, big=args.big), flush=True)
        print(f"store written in {time.perf_counter() - started:.0f} s", flush=True)
    _django.setup()
    from django.conf import settings

    settings.DEBUG = False  # no query log
    from mlopsadmin.lib import mlflow_server as server

    port = server.free_port()
    process = server.start_server(
        port=port,
        backend_store_uri=f"sqlite:///{args.workdir / 'mlflow.db'}",
        artifact_root=args.workdir / "artifacts",
        log_path=args.workdir / "mlflow.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_healthy(url, process=process, timeout=300)
        lines = measure(args, url)
    finally:
        server.stop_server(process)
    args.results.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
