"""How long a `manage.py` command takes to start, side by side with bare Django (`python -m django help`,
no project), and which libraries a command that needs no service loaded anyway.

Run from the repository root:  python bench/startup.py [--runs N] [--label TEXT] [--baseline CHECKOUT]
Appends one section to bench/results/startup.md. Runs are interleaved (one of each command per round, in
both checkouts) so a change in machine load hits every row alike; the load average is written at the start
and the end, and each command's CPU time (user + system, which depends little on that load) next to its
wall time. `--baseline` also measures another checkout with the same virtualenv, e.g. a worktree of the
commit before a change (`git worktree add --detach /tmp/before <commit>`), for a before/after column
(`--root` measures another checkout instead of this one). Each checkout gets a throwaway SQLite database
(migrated once) and the embedded defaults (no Redis).
"""

from __future__ import annotations

import argparse
import os
import resource
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


def run_once(command: list[str], root: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one run of `command` in `root` (must exit 0). The CPU
    time hardly depends on what else runs on the machine; the wall time does."""
    if command[1:3] == ["-m", "django"]:
        env = {k: v for k, v in env.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


class Install:
    """One checkout set up to run commands: its own throwaway SQLite database (migrated) and exported file."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
        self.env = {
            **os.environ,
            "MLOPSADMIN_VAR_DIR": str(work / "var"),
            "DJANGO_SETTINGS_MODULE": "mlopsadmin.settings",
            "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "AUDIT_HMAC_KEY": "bench-only-audit-key",
            "PYTHONPATH": str(self.root),
        }
        # A newcomer's embedded defaults, and .pyc files written (by the warm-up runs) as on their machine:
        # with PYTHONDONTWRITEBYTECODE set (as in some sandboxes) every run compiles the project's modules.
        for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "PYTHONDONTWRITEBYTECODE"):
            self.env.pop(name, None)
        self.config = work / "live.toml"
        subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=self.root, env=self.env, check=True)
        subprocess.run([PY, "manage.py", "export_config", str(self.config)], cwd=self.root, env=self.env, check=True)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=self.root, capture_output=True, text=True)
        self.commit = commit.stdout.strip() or "?"

    def command(self, args: list[str]) -> list[str]:
        args = [a.replace("FILE", str(self.config)) for a in args]
        return [PY, *args] if args[0] == "-m" else [PY, "manage.py", *args]


def medians(times: list[tuple[float, float]]) -> list[str]:
    """[median wall seconds, median CPU seconds] as table cells ("" when not measured)."""
    if not times:
        return ["", ""]
    return [f"{statistics.median(w for w, _ in times):.2f}", f"{statistics.median(c for _, c in times):.2f}"]


def modules_of(install: Install, args: list[str]) -> str:
    """Which WATCHED libraries `manage.py args` loads in `install` ("" for bare Django)."""
    if args[0] == "-m":
        return ""
    loaded = loaded_modules(install.command(args)[2:], WATCHED, root=install.root, env=install.env)
    return ", ".join(loaded) or "none"


CASES: list[tuple[str, list[str]]] = [
    ("bare Django, no project: `python -m django help`", ["-m", "django", "help"]),
    ("`manage.py help`", ["help"]),
    ("`manage.py export_config -`", ["export_config", "-"]),
    ("`manage.py apply_config FILE --dry-run`", ["apply_config", "FILE", "--dry-run"]),
    ("`manage.py model_owner search-ranker`", ["model_owner", "search-ranker"]),
    ("`manage.py createsuperuser --help`", ["createsuperuser", "--help"]),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--label", default="")
    parser.add_argument("--root", type=Path, default=HERE, help="the checkout to measure (default: this one)")
    parser.add_argument("--baseline", type=Path, default=None, help="a checkout to measure alongside (before)")
    options = parser.parse_args()
    installs = [Install(options.root)] + ([Install(options.baseline)] if options.baseline else [])
    # (case index, install index) pairs, bare Django once: it is the same in every checkout
    slots = [(i, j) for i, (_, args) in enumerate(CASES) for j in range(len(installs)) if j == 0 or args[0] != "-m"]
    for i, j in slots:  # warm the file cache and .pyc files: not counted
        run_once(installs[j].command(CASES[i][1]), installs[j].root, installs[j].env)
    load_start = os.getloadavg()[0]
    seconds: dict[tuple[int, int], list[tuple[float, float]]] = {slot: [] for slot in slots}
    for _ in range(options.runs):
        for i, j in slots:
            seconds[(i, j)].append(run_once(installs[j].command(CASES[i][1]), installs[j].root, installs[j].env))
    load_end = os.getloadavg()[0]
    now, after = installs[0], installs[-1] if len(installs) > 1 else None
    lines = [
        f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} {options.label}".rstrip(),
        "",
        f"Commit {now.commit}" + (f", baseline {after.commit}" if after else "") + f"; {options.runs} interleaved "
        f"runs each; load average (1 min) {load_start:.2f} at start, {load_end:.2f} at end (2 cores, shared).",
        "",
        ("| command | baseline median s | baseline CPU s | baseline loaded " if after else "| command ")
        + "| median s | CPU s | max s | loaded (of "
        + ", ".join(WATCHED)
        + ") |",
        "|---|---|---|---|---|" + ("---|---|---|" if after else ""),
    ]
    for i, (label, args) in enumerate(CASES):
        row = [label]
        if after is not None:
            row += [*medians(seconds.get((i, 1), [])), modules_of(after, args)]
        row += [*medians(seconds[(i, 0)]), f"{max(wall for wall, _ in seconds[(i, 0)]):.2f}", modules_of(now, args)]
        lines.append("| " + " | ".join(row) + " |")
        print(lines[-1], flush=True)
    out = HERE / "bench" / "results" / "startup.md"
    if not out.exists():
        out.write_text("# manage.py start-up time\n\nWritten by `bench/startup.py`.\n")
    with out.open("a") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
