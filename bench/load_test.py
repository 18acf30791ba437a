"""Load test: gunicorn (4 workers) on PostgreSQL and Redis, 50 concurrent users from a second process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mlopsadmin_load REDIS_URL=redis://127.0.0.1:6379/11 \
        .venv/bin/python bench/load_test.py --users 50 --requests 3000 --max-seconds 240

It starts its own MLflow server (seeded with the demo data) and gunicorn, creates the demo users,
then a separate load process logs each user in and cycles over the main pages their role may see
(the audit pages are refused to team members). Two phases, each bounded in requests and time, traffic
only to 127.0.0.1:
  1. users: each of the 50 users waits a think time (uniform, --think-min..--think-max seconds) after
     each page, as a person reading a dashboard does; this is the P95 target's load model;
  2. saturation: the same 50 users with no think time at all (50 requests always in flight), which
     measures the throughput ceiling of the machine rather than a user's experience.
In each phase all users log in first (each login hashes a password: ~0.5 s of CPU by design) and only
the page views after the last login are measured; login times are reported apart. CPU per request of
the load generator, gunicorn and the MLflow server is read from /proc over the measured window.
Results go to bench/results/load.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = ["/", "/catalog/", "/registry/", "/maintenance/", "/checklists/", "/audit/"]
USERS = ["lead_search", "lead_fraud", "operator", "auditor", "admin", "member_search"]
AUDIT_REFUSED = {"member_search"}  # policy: the audit pages are for auditors, admins, operators and ML leads


def pages_for(username: str) -> list[str]:
    return [page for page in PAGES if page != "/audit/" or username not in AUDIT_REFUSED]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants (Linux /proc), e.g. gunicorn and its workers."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            pending += [int(k) for k in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


# --- the load process ----------------------------------------------------------------------------
def run_load(
    base_url: str,
    users: int,
    total_requests: int,
    max_seconds: float,
    password: str,
    think_min: float = 0.0,
    think_max: float = 0.0,
    cpu_pids: dict[str, int] | None = None,
) -> dict:
    """Every user logs in first (a password hash each: CPU-heavy by design), then all start browsing
    together; only the browsing is measured, and the server CPU is read over that window alone."""
    import re
    import resource

    import requests

    latencies: dict[str, list[float]] = {page: [] for page in PAGES}
    logins: list[float] = []
    errors: list[str] = []
    counter = {"sent": 0}
    lock = threading.Lock()
    window: dict[str, float] = {}
    cpu_pids = cpu_pids or {}

    def open_window() -> None:  # runs once, when every user has logged in
        usage = resource.getrusage(resource.RUSAGE_SELF)
        window.update(
            {
                "started": time.monotonic(),
                "deadline": time.monotonic() + max_seconds,
                "generator": usage.ru_utime + usage.ru_stime,
                **{name: process_tree_cpu_seconds(pid) for name, pid in cpu_pids.items()},
            }
        )

    everyone_in = threading.Barrier(users, action=open_window)

    def user_loop(index: int) -> None:
        session = requests.Session()
        username = USERS[index % len(USERS)]
        start = time.perf_counter()
        login_page = session.get(base_url + "/accounts/login/", timeout=60)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text)
        response = session.post(
            base_url + "/accounts/login/",
            timeout=60,
            allow_redirects=False,
            data={"username": username, "password": password, "csrfmiddlewaretoken": token.group(1) if token else ""},
            headers={"Referer": base_url + "/accounts/login/"},
        )
        with lock:
            logins.append((time.perf_counter() - start) * 1000)
            if response.status_code != 302:
                errors.append(f"login {username}: {response.status_code}")
        everyone_in.wait()
        if response.status_code != 302:
            return
        deadline = window["deadline"]
        pages = pages_for(username)
        step = index
        rng = random.Random(index)
        if think_max:
            time.sleep(rng.uniform(0, think_max))  # users arrive spread out, not in one burst
        while time.monotonic() < deadline:
            with lock:
                if counter["sent"] >= total_requests:
                    return
                counter["sent"] += 1
            page = pages[step % len(pages)]
            step += 1
            start = time.perf_counter()
            try:
                result = session.get(base_url + page, timeout=30)
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    latencies[page].append(elapsed)
                    if result.status_code != 200:
                        errors.append(f"{page}: {result.status_code}")
            except requests.RequestException as exc:
                with lock:
                    errors.append(f"{page}: {type(exc).__name__}")
            if think_max:
                time.sleep(rng.uniform(think_min, think_max))

    threads = [threading.Thread(target=user_loop, args=(i,)) for i in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    duration = time.monotonic() - window["started"]
    every = [v for values in latencies.values() for v in values]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    spent = {
        "load generator": usage.ru_utime + usage.ru_stime - window["generator"],
        **{name: process_tree_cpu_seconds(pid) - window[name] for name, pid in cpu_pids.items()},
    }
    return {
        "users": users,
        "think_seconds": [think_min, think_max],
        "requests": len(every),
        "seconds": round(duration, 1),
        "throughput_rps": round(len(every) / duration, 1) if duration else 0,
        "p50_ms": round(percentile(every, 50), 1),
        "p95_ms": round(percentile(every, 95), 1),
        "p99_ms": round(percentile(every, 99), 1),
        "per_page": {
            page: {"n": len(v), "p50_ms": round(percentile(v, 50), 1), "p95_ms": round(percentile(v, 95), 1)}
            for page, v in latencies.items()
        },
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:10],
        "cpu_ms_per_request": {name: round(seconds * 1000 / max(1, len(every)), 1) for name, seconds in spent.items()},
        "logins": {
            "n": len(logins),
            "p50_ms": round(percentile(logins, 50), 1),
            "max_ms": round(max(logins, default=0), 1),
        },
    }


# --- orchestration -------------------------------------------------------------------------------
def wait_for_login_page(base_url: str, timeout: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(base_url + "/accounts/login/", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{base_url} did not answer")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--max-seconds", type=float, default=240)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--think-min", type=float, default=1.0, help="seconds a user reads a page, at least")
    parser.add_argument("--think-max", type=float, default=3.0, help="... and at most")
    parser.add_argument(
        "--saturation-requests", type=int, default=1500, help="requests of the no-think-time phase (0: skip it)"
    )
    parser.add_argument("--load-only", help=argparse.SUPPRESS)  # internal: run as the load process
    args = parser.parse_args()

    if args.load_only:
        config = json.loads(args.load_only)
        print(json.dumps(run_load(**config)))
        return

    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: the target is gunicorn on PostgreSQL and Redis.")
    os.environ.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-" + "x" * 50,
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "DJANGO_SETTINGS_MODULE": "mlopsadmin.settings",
        }
    )
    from mlopsadmin.lib import mlflow_server

    workdir = Path(tempfile.mkdtemp(prefix="mlopsadmin-load-"))
    mlflow_port, web_port = mlflow_server.free_port(), mlflow_server.free_port()
    mlflow_url = f"http://127.0.0.1:{mlflow_port}"
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_url
    mlflow_process = mlflow_server.start_server(
        port=mlflow_port,
        backend_store_uri=f"sqlite:///{workdir}/mlflow.db",
        artifact_root=workdir / "artifacts",
        log_path=workdir / "mlflow.log",
    )
    web = None
    try:
        mlflow_server.wait_healthy(mlflow_url, process=mlflow_process)
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)
        subprocess.run([python, "manage.py", "seed_demo"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        web = subprocess.Popen(
            [
                python,
                "-m",
                "gunicorn",
                "mlopsadmin.wsgi",
                "-w",
                str(args.workers),
                "-b",
                f"127.0.0.1:{web_port}",
                "--timeout",
                "60",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            start_new_session=True,
        )
        base_url = f"http://127.0.0.1:{web_port}"
        wait_for_login_page(base_url)
        import django

        django.setup()
        from mlopsadmin.core.demo import DEMO_PASSWORD

        config = {
            "base_url": base_url,
            "users": args.users,
            "total_requests": args.requests,
            "max_seconds": args.max_seconds,
            "password": DEMO_PASSWORD,
        }
        # warm-up pass (first requests import mlflow in each worker)
        subprocess.run(
            [python, __file__, "--load-only", json.dumps({**config, "users": 8, "total_requests": 60})],
            capture_output=True,
            text=True,
            check=True,
        )
        phases = [{**config, "think_min": args.think_min, "think_max": args.think_max}]
        if args.saturation_requests:
            phases.append({**config, "total_requests": args.saturation_requests})
        results = []
        for phase in phases:
            load_before = os.getloadavg()[0]
            phase["cpu_pids"] = {"gunicorn": web.pid, "MLflow server": mlflow_process.pid}
            output = subprocess.run(
                [python, __file__, "--load-only", json.dumps(phase)], capture_output=True, text=True, check=True
            )
            result = json.loads(output.stdout.strip().splitlines()[-1])
            result["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            results.append(result)
    finally:
        if web is not None:
            mlflow_server.stop_server(web)
        mlflow_server.stop_server(mlflow_process)
    write_results(results, args.workers)
    print(json.dumps(results, indent=2))


def write_results(results: list[dict], workers: int) -> None:
    lines = [
        "# Load test (bench/load_test.py)",
        "",
        f"gunicorn {workers} workers on PostgreSQL + Redis, local MLflow server (gunicorn mode) with the demo data;",
        f"logged-in users from a second process on 127.0.0.1, each cycling over the pages of {', '.join(PAGES)}",
        "that their role may open (team members may not open the audit pages). 2-core machine; the load",
        "generator, gunicorn, PostgreSQL, Redis and the MLflow server all share it.",
        "",
    ]
    for result in results:
        think_min, think_max = result["think_seconds"]
        title = (
            f"## {result['users']} users, think time {think_min:g}–{think_max:g} s between pages"
            if think_max
            else f"## Saturation: {result['users']} users, no think time (always in flight)"
        )
        lines += [
            title,
            "",
            f"- requests: {result['requests']} in {result['seconds']} s ({result['throughput_rps']} req/s)",
            f"- latency: P50 {result['p50_ms']} ms, **P95 {result['p95_ms']} ms**, P99 {result['p99_ms']} ms",
            f"- errors: {result['errors']} {result['error_samples'] if result['errors'] else ''}",
            f"- machine load average (1 min) before/after the phase: {result['load_average']}",
            "- CPU per request: " + ", ".join(f"{k} {v} ms" for k, v in result["cpu_ms_per_request"].items()),
            f"- logins before the measured window (not counted above): {result['logins']['n']}, "
            f"P50 {result['logins']['p50_ms']} ms, slowest {result['logins']['max_ms']} ms",
            "",
            "| page | requests | P50 ms | P95 ms |",
            "|---|---|---|---|",
            *[f"| `{page}` | {v['n']} | {v['p50_ms']} | {v['p95_ms']} |" for page, v in result["per_page"].items()],
            "",
        ]
    lines += [f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", ""]
    out = ROOT / "bench" / "results" / "load.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
