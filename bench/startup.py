"""How long a `manage.py` command takes to start, side by side with bare Django, and whether the
mlflow package was imported by commands that never call MLflow.

Run from the repository root:  python bench/startup.py [--runs N] [--label TEXT]
Appends one section to bench/results/startup.md. Uses a throwaway SQLite database (migrated once).
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

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def timed(command: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """(median, max) wall seconds of `runs` runs of `command`."""
    if command[1:3] == ["-m", "django"]:
        env = {k: v for k, v in env.items() if k != "DJANGO_SETTINGS_MODULE"}
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), max(seconds)


def mlflow_imported(args: list[str], env: dict[str, str]) -> bool:
    """Run manage.py with `args` and report whether the mlflow package was imported by the end."""
    code = (
        "import atexit, runpy, sys; "
        "atexit.register(lambda: sys.stderr.write('MLFLOW_IMPORTED=%s' % ('mlflow' in sys.modules))); "
        f"sys.argv = ['manage.py', *{args!r}]; runpy.run_path('manage.py', run_name='__main__')"
    )
    out = subprocess.run([PY, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return "MLFLOW_IMPORTED=True" in out.stderr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--label", default="")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    env = {
        **os.environ,
        "MLOPSADMIN_VAR_DIR": str(work / "var"),
        "DJANGO_SETTINGS_MODULE": "mlopsadmin.settings",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DATABASE_URL", None)
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    config = work / "live.toml"
    subprocess.run([PY, "manage.py", "export_config", str(config)], cwd=ROOT, env=env, check=True)
    cases = [
        ("bare Django, no project: `python -m django help`", [PY, "-m", "django", "help"], None),
        ("`manage.py help`", [PY, "manage.py", "help"], ["help"]),
        ("`manage.py export_config -`", [PY, "manage.py", "export_config", "-"], ["export_config", "-"]),
        (
            "`manage.py apply_config FILE --dry-run`",
            [PY, "manage.py", "apply_config", str(config), "--dry-run"],
            ["apply_config", str(config), "--dry-run"],
        ),
        ("`manage.py model_owner search-ranker`", [PY, "manage.py", "model_owner", "search-ranker"], None),
    ]
    load = os.getloadavg()[0]
    lines = [
        f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} {options.label}".rstrip(),
        "",
        f"{options.runs} runs each, load average at start {load:.1f} (2 cores, shared).",
        "",
        "| command | median s | max s | mlflow imported |",
        "|---|---|---|---|",
    ]
    for label, command, args in cases:
        median, worst = timed(command, env, options.runs)
        imported = "" if args is None else ("yes" if mlflow_imported(args, env) else "no")
        lines.append(f"| {label} | {median:.2f} | {worst:.2f} | {imported} |")
        print(lines[-1], flush=True)
    out = ROOT / "bench" / "results" / "startup.md"
    if not out.exists():
        out.write_text("# manage.py start-up time\n\nWritten by `bench/startup.py`.\n")
    with out.open("a") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
