"""Commands that never talk to MLflow, S3, Redis, the task queue or the JSON API start without importing
their libraries, and manage.py keeps the garbage collector out of start-up and exit (the start-up time itself
is measured side by side by bench/startup.py, not here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.startup import loaded_modules

ROOT = Path(__file__).resolve().parents[2]
# What a command that needs no service must not load: the SDKs, Celery's app and worker machinery (and
# kombu behind it), django-ninja (the API, loaded with the URL conf), pandas, and requests with urllib3
# (webhook delivery, mlopsadmin.lib.http: the notification admin imports the channels at start-up).
NOT_NEEDED = (
    *("mlflow", "boto3", "botocore", "redis", "pandas", "celery.app", "celery.worker", "kombu", "ninja"),
    *("requests", "urllib3"),
)


@pytest.fixture(scope="module")
def command_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A migrated SQLite install on the embedded defaults (no Redis cache or broker), whatever the test
    run's own DATABASE_URL / REDIS_URL say."""
    var = tmp_path_factory.mktemp("startup")
    env = {**os.environ, "MLOPSADMIN_VAR_DIR": str(var), "DEBUG": "true", "PYTHONPATH": str(ROOT)}
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    export = [sys.executable, "manage.py", "export_config", str(var / "live.toml")]
    subprocess.run(export, cwd=ROOT, env=env, check=True)
    return env


def loaded_by(args: list[str], env: dict[str, str], names: tuple[str, ...] = NOT_NEEDED) -> list[str]:
    try:
        return loaded_modules(args, names, root=ROOT, env=env)
    except subprocess.CalledProcessError as exc:
        raise AssertionError(f"{args} failed: {exc.stderr[-2000:]}") from None


@pytest.mark.parametrize(
    "args",
    [
        ["help"],
        ["export_config", "-"],
        ["apply_config", "{var}/live.toml", "--dry-run"],
        ["model_owner", "search-ranker"],
        ["createsuperuser", "--help"],
    ],
    ids=lambda args: args[0],
)
def test_commands_without_services_load_none_of_their_libraries(args: list[str], command_env: dict[str, str]) -> None:
    args = [a.format(var=command_env["MLOPSADMIN_VAR_DIR"]) for a in args]
    assert loaded_by(args, command_env) == [], args


def test_check_loads_no_sdk(command_env: dict[str, str]) -> None:
    # `check` loads the URL conf, so the API (ninja) and the task modules: but still no SDK.
    assert loaded_by(["check"], command_env, ("mlflow", "boto3", "botocore", "redis", "pandas")) == []


def test_manage_py_leaves_the_collector_out_of_start_up_and_exit(command_env: dict[str, str]) -> None:
    # manage.py's tune_collector: no full collection while Django starts (the default thresholds make one,
    # and 140 young ones), and everything left frozen before the interpreter unloads its modules, so the
    # collections Python runs then skip it (they were ~0.13 s of `manage.py help`).
    probe = """
import atexit, gc, runpy, sys
def report():
    counts = [generation["collections"] for generation in gc.get_stats()]
    sys.stderr.write(f"GC={counts[0]},{counts[1]},{counts[2]},{gc.get_freeze_count()},{len(gc.get_objects())}")
atexit.register(report)  # registered before manage.py's hook: runs after it
sys.argv = ["manage.py", "help"]
runpy.run_path("manage.py", run_name="__main__")
"""
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=command_env, check=True, capture_output=True)
    young, middle, full, frozen, left = map(int, out.stderr.decode().rsplit("GC=", 1)[1].split(","))
    assert full == 0 and young < 60, (young, middle, full)
    assert frozen > 10_000 and left < 100, (frozen, left)  # left: what the report itself creates
