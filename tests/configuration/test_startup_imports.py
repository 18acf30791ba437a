"""Commands that never talk to MLflow, S3 or Redis start without importing their libraries (the
start-up time itself is measured by bench/startup.py, not here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import atexit, runpy, sys; "
    "atexit.register(lambda: sys.stderr.write('LOADED=' + ','.join("
    "m for m in ('mlflow', 'boto3', 'redis', 'pandas') if m in sys.modules))); "
    "sys.argv = ['manage.py', *sys.argv[1:]]; runpy.run_path('manage.py', run_name='__main__')"
)


def test_commands_without_mlflow_do_not_import_it(tmp_path: Path) -> None:
    env = {**os.environ, "MLOPSADMIN_VAR_DIR": str(tmp_path), "DEBUG": "true", "PYTHONPATH": str(ROOT)}
    # The embedded defaults (no Redis cache or broker): what a command needs when it needs no service.
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    for args in (["help"], ["export_config", "-"], ["check"]):
        done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stderr.rsplit("LOADED=", 1)[1].strip() == "", (args, done.stderr[-500:])
