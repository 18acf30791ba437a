"""Bench: how long the registry overview and a model page take with many models and versions.

Starts its own `mlflow server` (SQLite, temp folder), registers N models (product and flagged names)
with versions backed by real runs, then times the selectors the pages use. Writes
bench/results/registry_pages.md.

    DEBUG=true /work/main/.venv/bin/python bench/registry_pages.py [models] [versions_of_big_model]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlopsadmin.settings")
os.environ.setdefault("SQLITE_PATH", str(Path(tempfile.mkdtemp()) / "bench.sqlite3"))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from mlopsadmin.lib import mlflow_server as server  # noqa: E402


def timed(fn, repeat: int = 5) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def main() -> None:
    n_models = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    n_versions = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    call_command("migrate", verbosity=0)
    workdir = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    port = server.free_port()
    process = server.start_server(
        port=port,
        backend_store_uri=f"sqlite:///{workdir / 'mlflow.db'}",
        artifact_root=workdir / "artifacts",
        log_path=workdir / "mlflow.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_healthy(url, process=process)
        settings.MLFLOW_TRACKING_URI = settings.MLFLOW_UI_URL = url
        from mlopsadmin.lib import mlflow_client as mlf
        from registry_ui import selectors

        experiment_id = mlf.create_experiment("/search-team/bench/registry")
        run_id = mlf.create_run(experiment_id, run_name="bench")
        mlf.log_batch(run_id, metrics=[("val_ndcg_at_10", 0.8, 0, s) for s in range(10)])
        start = time.perf_counter()
        for i in range(n_models):
            name = f"search-product-{i:04d}" if i % 3 else f"xgboost-search-{i:04d}-v{i % 7}"
            mlf.create_registered_model(name)
            mlf.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id)
            if i % 2 == 0:
                mlf.set_model_alias(name, "champion", 1)
        seed_s = time.perf_counter() - start
        big = "search-big-model"
        mlf.create_registered_model(big)
        for index in range(n_versions):  # each version backed by its own run, as in real registries
            own_run = mlf.create_run(experiment_id, run_name=f"big-{index}")
            mlf.log_batch(
                own_run,
                metrics=[("val_ndcg_at_10", 0.7 + index / 1000, 0, s) for s in range(10)],
                params={"lr": "3e-5"},
            )
            mlf.create_model_version(big, source=f"runs:/{own_run}/model", run_id=own_run)
        mlf.set_model_alias(big, "champion", 1)

        listing = timed(lambda: list(mlf.iter_registered_models()))
        overview = timed(lambda: selectors.registry_overview())
        model = mlf.get_registered_model(big)
        versions = timed(lambda: selectors.model_versions(big))
        page_versions = selectors.model_versions(big)[:25]
        rows = timed(lambda: selectors.version_rows(model, page_versions, "val_ndcg_at_10"))
        candidate = page_versions[0]
        comparison = timed(lambda: selectors.champion_comparison(model, candidate, "val_ndcg_at_10"))
        lines = [
            "# Registry pages bench",
            "",
            f"MLflow {mlf.client_version()} server (SQLite, gunicorn workers as in the test fixture), "
            f"{os.cpu_count()} CPUs. Median / max of 5 runs, milliseconds.",
            "",
            "| what | size | median ms | max ms |",
            "|---|---|---|---|",
            f"| registry overview (all models, team, aliases, pending, lint) | {n_models + 1} models | "
            f"{overview[0]:.0f} | {overview[1]:.0f} |",
            f"| gateway iter_registered_models alone | {n_models + 1} models | {listing[0]:.0f} | {listing[1]:.0f} |",
            f"| all versions of one model | {n_versions} versions | {versions[0]:.0f} | {versions[1]:.0f} |",
            f"| versions table rows (25 distinct runs: 1 get_run + 1 search_runs) | 25 rows | {rows[0]:.0f} | "
            f"{rows[1]:.0f} |",
            f"| champion comparison (2 runs + 2 metric histories) | 10 steps | {comparison[0]:.0f} | "
            f"{comparison[1]:.0f} |",
            "",
            f"Seeding {n_models} models took {seed_s:.1f} s.",
        ]
        out = ROOT / "bench" / "results" / "registry_pages.md"
        out.write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
    finally:
        server.stop_server(process)


if __name__ == "__main__":
    main()
