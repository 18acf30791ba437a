"""The base of every project `manage.py` command: a failure an operator can act on (database not migrated
or not answering, MLflow not answering, a refusal by a rule, a file that cannot be read or written) ends the
command with one `CommandError: ...` line and a non-zero exit, never a traceback.

`manage.py <command> --traceback` still shows the traceback. An unexpected error on the command line is
reported in one line too, naming its type and pointing at --traceback; `call_command` (tests, other
commands) gets the unexpected exception itself.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from mlopsadmin.core.errors import DomainError
from mlopsadmin.lib.redaction import scrub


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's text, without credentials (a DSN may quote a password)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return scrub(lines[0] if lines else type(exc).__name__)


def pending_migrations(alias: str = DEFAULT_DB_ALIAS) -> int:
    """How many migrations the database `alias` has not applied. Raises DatabaseError when it does not
    answer (the migration table is read)."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[alias])
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def database_problem(exc: DatabaseError) -> str:
    """One line saying what an operator does about a database error a command met: migrate (tables
    missing), or look at the database (not answering: the driver's first line), else the error itself."""
    try:
        pending = pending_migrations()
    except DatabaseError as unreachable:
        return f"database unreachable: {first_line(unreachable)}"
    if pending:
        return f"the database is not migrated ({pending} migration(s) not applied): run manage.py migrate first"
    return f"database error: {first_line(exc)}"


def command_problem(exc: Exception) -> str | None:
    """The one line for a failure an operator can act on, or None for an unexpected error."""
    from mlopsadmin.lib.mlflow_client import MlflowError

    if isinstance(exc, DatabaseError):
        return database_problem(exc)
    if isinstance(exc, MlflowError | DomainError | PermissionDenied):
        return first_line(exc) if isinstance(exc, MlflowError) else scrub(str(exc)) or type(exc).__name__
    if isinstance(exc, OSError):  # a file argument: missing, a folder, not writable...
        return first_line(exc)
    return None


class ProjectCommand(BaseCommand):
    """BaseCommand whose failures are one `CommandError` line (module docstring). Every project command
    derives from it (tests/configuration/test_command_errors.py runs each in every failure situation)."""

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except CommandError:
            raise
        except Exception as exc:
            if options.get("traceback"):
                raise
            problem = command_problem(exc)
            if problem is None:
                if not getattr(self, "_called_from_command_line", False):
                    raise
                problem = f"unexpected {type(exc).__name__}: {first_line(exc)} (run again with --traceback)"
            raise CommandError(problem) from exc
