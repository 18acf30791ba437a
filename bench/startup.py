"""How long a `manage.py` command takes to start, side by side with bare Django (`python -m django help`,
no project), and which libraries a command that needs no service loaded anyway.

Run from the repository root:  python bench/startup.py [--runs N] [--label TEXT] [--root CHECKOUT]
Appends one section to bench/results/startup.md (of this repository, whatever --root says). Runs are
interleaved (one of each command per round) so a change in machine load hits every row alike; the load
average is written at the start and the end. `--root` measures another checkout with the same virtualenv,
e.g. a worktree of the commit before a change (`git worktree add --detach /tmp/before HEAD~1`), for a
before/after. Uses a throwaway SQLite database (migrated once) and the embedded defaults (no Redis).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
PY = sys.executable
# Libraries a command that talks to no service should not load (tests/configuration/test_startup_imports.py).
WATCHED = ("mlflow", "boto3", "requests", "celery.app", "kombu", "ninja", "pydantic")


def import_probe(names: tuple[str, ...]) -> str:
    """Python code that runs `manage.py <argv>` and, at exit, writes `LOADED=<a>,<b>` to stderr: those of
    `names` (packages or modules, their submodules count) that were imported. Shared with
    tests/configuration/test_startup_imports.py."""
    return f"""
import atexit, runpy, sys
def report():
    hits = [n for n in {names!r} if any(m == n or m.startswith(n + ".") for m in sys.modules)]
    sys.stderr.write("LOADED=" + ",".join(hits))
atexit.register(report)
sys.argv = ["manage.py", *sys.argv[1:]]
runpy.run_path("manage.py", run_name="__main__")
"""


def loaded_modules(args: list[str], names: tuple[str, ...], *, root: Path, env: dict[str, str]) -> list[str]:
    """Which of `names` `manage.py args` (run in `root`) had imported by the time it exited; raises
    CalledProcessError (with its output) when the command fails."""
    out = subprocess.run(
        [PY, "-c", import_probe(names), *args], cwd=root, env=env, check=True, capture_output=True, text=True
    )
    return [name for name in out.stderr.rsplit("LOADED=", 1)[1].strip().split(",") if name]


def run_once(command: list[str], root: Path, env: dict[str, str]) -> float:
    """Wall seconds of one run of `command` in `root` (must exit 0)."""
    if command[1:3] == ["-m", "django"]:
        env = {k: v for k, v in env.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    start = time.perf_counter()
    subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--label", default="")
    parser.add_argument("--root", type=Path, default=HERE, help="the checkout to measure (default: this one)")
    options = parser.parse_args()
    root = options.root.resolve()
    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    env = {
        **os.environ,
        "MLOPSADMIN_VAR_DIR": str(work / "var"),
        "DJANGO_SETTINGS_MODULE": "mlopsadmin.settings",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "PYTHONPATH": str(root),
    }
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=root, env=env, check=True)
    config = work / "live.toml"
    subprocess.run([PY, "manage.py", "export_config", str(config)], cwd=root, env=env, check=True)
    cases: list[tuple[str, list[str]]] = [
        ("bare Django, no project: `python -m django help`", ["-m", "django", "help"]),
        ("`manage.py help`", ["help"]),
        ("`manage.py export_config -`", ["export_config", "-"]),
        ("`manage.py apply_config FILE --dry-run`", ["apply_config", str(config), "--dry-run"]),
        ("`manage.py model_owner search-ranker`", ["model_owner", "search-ranker"]),
        ("`manage.py createsuperuser --help`", ["createsuperuser", "--help"]),
    ]
    commands = [[PY, *args] if args[0] == "-m" else [PY, "manage.py", *args] for _, args in cases]
    for command in commands:  # warm the file cache and .pyc files: not counted
        run_once(command, root, env)
    load_start = os.getloadavg()[0]
    seconds: list[list[float]] = [[] for _ in cases]
    for _ in range(options.runs):
        for i, command in enumerate(commands):
            seconds[i].append(run_once(command, root, env))
    load_end = os.getloadavg()[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
    lines = [
        f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} {options.label}".rstrip(),
        "",
        f"Commit {commit.stdout.strip() or '?'}; {options.runs} interleaved runs each; load average (1 min) "
        f"{load_start:.2f} at start, {load_end:.2f} at end (2 cores, shared).",
        "",
        "| command | median s | max s | loaded of " + ", ".join(WATCHED) + " |",
        "|---|---|---|---|",
    ]
    for (label, args), times in zip(cases, seconds, strict=True):
        modules = "" if args[0] == "-m" else ", ".join(loaded_modules(args, WATCHED, root=root, env=env)) or "none"
        lines.append(f"| {label} | {statistics.median(times):.2f} | {max(times):.2f} | {modules} |")
        print(lines[-1], flush=True)
    out = HERE / "bench" / "results" / "startup.md"
    if not out.exists():
        out.write_text("# manage.py start-up time\n\nWritten by `bench/startup.py`.\n")
    with out.open("a") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
