"""Time the checklist probes against a real, demo-seeded MLflow server (SQLite backend, gunicorn mode).

Run from the repository root:  python bench/checklists_probes.py
Writes bench/results/checklists_probes.md. Uses a throwaway SQLite database for mlopsadmin itself.
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
WORK = Path(tempfile.mkdtemp(prefix="bench-checklists-"))
os.environ["MLOPSADMIN_VAR_DIR"] = str(WORK / "var")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlopsadmin.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from mlopsadmin.lib import mlflow_server as server  # noqa: E402

ROUNDS = 5


def main() -> None:
    call_command("migrate", verbosity=0)
    backend = f"sqlite:///{WORK / 'mlflow.db'}"
    port = server.free_port()
    process = server.start_server(
        port=port, backend_store_uri=backend, artifact_root=WORK / "artifacts", log_path=WORK / "mlflow.log"
    )
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_healthy(url, process=process)
        settings.MLFLOW_TRACKING_URI = settings.MLFLOW_UI_URL = url
        settings.MLFLOW_BACKEND_STORE_URI = backend
        from checklists import probes, services
        from mlopsadmin.core.demo import seed_demo

        seed_demo(with_users=False)
        rows = []
        for name in probes.PROBES:
            times, status = [], ""
            for _ in range(ROUNDS):
                start = time.perf_counter()
                status = probes.run_probe(name).status
                times.append((time.perf_counter() - start) * 1000)
            rows.append((name, status, statistics.median(times), max(times)))
        samples = [s.milliseconds for s in probes.take_latency_samples(rounds=20)]
        timings = {}
        for kind in ("initial", "weekly", "monthly"):
            instance, _ = services.instance_create(kind=kind)
            start = time.perf_counter()
            services.instance_probe_run(instance_id=instance.pk)
            timings[kind] = (time.perf_counter() - start) * 1000
    finally:
        server.stop_server(process)
    lines = [
        "# Checklist probes: timings",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on this machine (2 cores, shared), MLflow "
        "server in gunicorn mode with a SQLite backend, seeded with the demo data; median and max of "
        f"{ROUNDS} runs per probe.",
        "",
        "| probe | status on the demo server | median ms | max ms |",
        "|---|---|---|---|",
        *[f"| {name} | {status} | {median:.1f} | {worst:.1f} |" for name, status, median, worst in rows],
        "",
        "| instance probe run (all probes of the checklist + audit) | ms |",
        "|---|---|",
        *[f"| {kind} | {ms:.0f} |" for kind, ms in timings.items()],
        "",
        f"Latency probe: {len(samples)} samples (health, experiments/search, registered-models/search): "
        f"P50 {statistics.median(samples):.1f} ms, P95 {probes.p95(samples):.1f} ms, max {max(samples):.1f} ms.",
        "",
    ]
    out = ROOT / "bench" / "results" / "checklists_probes.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
