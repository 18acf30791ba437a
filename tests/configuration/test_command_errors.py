"""Every project `manage.py` command, on a database that is not migrated, a database that does not answer,
an MLflow server that does not answer, or with arguments that name nothing: a clear `CommandError: ...`
line and a non-zero exit, never a traceback.

The commands run as the command line runs them (ManagementUtility, in one process per situation:
tests/configuration/run_commands.py), with MLflow at a port nobody listens on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
NOBODY = "127.0.0.1:9"  # the discard port: connections are refused at once

# One invocation (valid syntax) of every project command. `rundemo` starts servers: not run here.
INVOCATIONS: dict[str, list[str]] = {
    "apply_config": ["apply_config", "{var}/small.toml", "--dry-run"],
    "export_config": ["export_config", "-"],
    "model_owner": ["model_owner", "search-ranker"],
    "checklist_definitions_sync": ["checklist_definitions_sync"],
    "capacity_check": ["capacity_check"],
    "cleanup_execute": ["cleanup_execute", "1", "--confirm"],
    "cleanup_plan": ["cleanup_plan"],
    "reap_stuck_runs": ["reap_stuck_runs"],
    "alias_reconcile": ["alias_reconcile"],
    "alias_baseline": ["alias_baseline"],
    "import_approvals": ["import_approvals"],
    "catalog_sync": ["catalog_sync"],
    "registry_sync": ["registry_sync"],
    "purge_deleted_experiment": ["purge_deleted_experiment", "1", "--actor", "admin", "--reason", "r"],
    "oidc_discover": ["oidc_discover", f"http://{NOBODY}/realms/main"],
    "sync_mlflow_permissions": ["sync_mlflow_permissions", "--dry-run"],
    "create_team": ["create_team", "search", "/search-team"],
    "create_user": ["create_user", "jane"],
    "issue_token": ["issue_token", "jane"],
    "seed_demo": ["seed_demo", "--no-users"],
    "verify_audit": ["verify_audit"],
    "verify_audit_export": ["verify_audit_export", "{var}/missing.jsonl"],
}
NOT_RUN = {"rundemo"}
# Commands that need no database at all.
OFFLINE = {"oidc_discover", "verify_audit_export"}
# Commands that read the database before anything else (the rest may meet MLflow first).
DATABASE_FIRST = {
    "apply_config", "export_config", "model_owner", "checklist_definitions_sync", "capacity_check",
    "cleanup_execute", "cleanup_plan", "reap_stuck_runs", "registry_sync", "purge_deleted_experiment", "create_team",
    "create_user", "issue_token", "verify_audit",
}  # fmt: skip


def environment(var: Path, **changes: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("MLFLOW_", "S3_", "AWS_", "DATABASE_", "REDIS_", "CELERY_", "MLOPSADMIN_", "SCHEDULE_", "SQLITE_")
        )
    }
    env.update(
        MLOPSADMIN_VAR_DIR=str(var),
        DEBUG="true",
        PYTHONPATH=str(ROOT),
        MLFLOW_TRACKING_URI=f"http://{NOBODY}",
        MLFLOW_REQUEST_MAX_RETRIES="0",
        MLFLOW_REQUEST_TIMEOUT="5",
    )
    env.update(changes)
    return env


def run_all(argvs: list[list[str]], env: dict[str, str]) -> list[dict[str, Any]]:
    var = env["MLOPSADMIN_VAR_DIR"]
    argvs = [[a.format(var=var) for a in argv] for argv in argvs]
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "configuration" / "run_commands.py"), json.dumps(argvs)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "RESULTS=" in done.stdout, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]  # nothing logged with a traceback either
    records: list[dict[str, Any]] = json.loads(done.stdout.rsplit("RESULTS=", 1)[1])
    return records


def refused_in_one_line(record: dict[str, Any]) -> str:
    """The CommandError line of a command that failed cleanly; fails the test otherwise."""
    argv = " ".join(record["argv"])
    assert not record["traceback"], f"{argv}: traceback\n{record['traceback'][-2500:]}"
    assert record["code"] != 0, f"{argv}: exit 0\n{record['stdout'][-500:]}"
    lines = record["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("CommandError: "), f"{argv}: {record['stderr'][-1500:]}"
    return lines[0]


def test_every_project_command_is_covered() -> None:
    project = {name for name, app in get_commands().items() if not app.startswith("django")}
    assert project == set(INVOCATIONS) | NOT_RUN


@pytest.fixture(scope="module")
def var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("command-errors")
    (folder / "small.toml").write_text("version = 1\n[cleanup]\nolder_than_days = 30\n")
    return folder


def test_on_a_database_that_is_not_migrated(var: Path) -> None:
    records = run_all(list(INVOCATIONS.values()), environment(var, SQLITE_PATH=str(var / "empty.sqlite3")))
    for record in records:
        line = refused_in_one_line(record)
        name = record["argv"][0]
        if name in DATABASE_FIRST:
            assert "run manage.py migrate first" in line, line
        elif name not in OFFLINE:
            assert "run manage.py migrate first" in line or "MLflow" in line, line


def test_on_a_database_that_does_not_answer(var: Path) -> None:
    env = environment(var, DATABASE_URL=f"postgres://mlopsadmin:secret-pw@{NOBODY}/mlopsadmin")
    for record in run_all(list(INVOCATIONS.values()), env):
        line = refused_in_one_line(record)
        assert "secret-pw" not in line
        if record["argv"][0] in DATABASE_FIRST:
            assert line.startswith("CommandError: database unreachable: "), line


def test_mlflow_unreachable_and_arguments_that_name_nothing(var: Path) -> None:
    env = environment(var, SQLITE_PATH=str(var / "migrated.sqlite3"))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    mlflow = ["catalog_sync", "alias_reconcile", "alias_baseline", "import_approvals", "sync_mlflow_permissions"]
    bad = [  # (arguments, what the one line says)
        (["export_config", str(var / "no-such-folder" / "out.toml")], "Cannot write"),
        (["apply_config", str(var / "missing.toml")], "Cannot read"),
        (["apply_config", str(var)], "Is a directory"),
        (["cleanup_execute", "999", "--confirm"], "No cleanup plan #999"),
        (["issue_token", "nobody"], "No user 'nobody'"),
        (["purge_deleted_experiment", "1", "--actor", "nobody", "--reason", "r"], "No user 'nobody'"),
        (["model_owner", "m", "--team", "nope"], "Unknown team 'nope'"),
        (["verify_audit_export", str(var / "missing.jsonl")], "cannot read"),
        (["oidc_discover", "not a url"], "Cannot read the discovery document"),
        (["reap_stuck_runs", "--experiment", "no-such-experiment", "--wait"], "unreachable"),
    ]
    records = run_all([INVOCATIONS[name] for name in mlflow] + [["seed_demo", "--no-users"]] + [a for a, _ in bad], env)
    for record in records[: len(mlflow) + 1]:
        line = refused_in_one_line(record)
        assert "MLflow" in line and "unreachable" in line, line
    for record, (_, says) in zip(records[len(mlflow) + 1 :], bad, strict=True):
        assert says in refused_in_one_line(record)
