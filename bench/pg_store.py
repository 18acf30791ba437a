"""A PostgreSQL copy of a generated SQLite MLflow store (bench/maintenance_store.py), for benches that compare on
the production-like backend: an `mlflow server` on SQLite serializes every write, on PostgreSQL it does not.

The database is dropped and created again, `python -m mlflow db upgrade` builds MLflow's schema (a subprocess:
mlopsadmin never imports mlflow outside its gateway), then the generated tables' rows are copied with `psql
\\copy` (text format). Nothing here imports a database driver.

    python bench/pg_store.py /tmp/bench/pristine/mlflow.db mlflow_bench_copy
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

TABLES = ("experiments", "runs", "tags", "params", "metrics", "latest_metrics")  # what the generator writes
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-q"]


def _psql(database: str, command: str) -> None:
    subprocess.run([*PSQL, "-d", database, "-c", command], check=True, capture_output=True, text=True)


def _text(value: object) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_to_postgres(sqlite_db: Path, database: str) -> str:
    """(Re)create `database` on the local PostgreSQL with MLflow's schema and the generated rows of `sqlite_db`;
    returns its SQLAlchemy URI."""
    _psql("postgres", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    _psql("postgres", f'CREATE DATABASE "{database}"')
    uri = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}"
    subprocess.run([sys.executable, "-m", "mlflow", "db", "upgrade", uri], check=True, capture_output=True, text=True)
    # experiment 0 is the Default the upgrade made
    _copy_rows(sqlite_db, database, lambda table: "experiment_id != 0" if table == "experiments" else "TRUE")
    return uri


def copy_experiments_to_postgres(sqlite_db: Path, database: str, experiment_ids: list[str]) -> None:
    """Copy the rows of these experiments (added to `sqlite_db` after copy_to_postgres: the reaper stage's sets)
    and of their runs into `database`."""
    listed = ", ".join(str(int(e)) for e in experiment_ids)
    runs = f"run_uuid IN (SELECT run_uuid FROM runs WHERE experiment_id IN ({listed}))"
    own = f"experiment_id IN ({listed})"
    _copy_rows(sqlite_db, database, lambda table: own if table in ("experiments", "runs") else runs)


def _copy_rows(sqlite_db: Path, database: str, where: Callable[[str], str]) -> None:
    """Copy each table's rows matching `where(table)` (an SQL condition) from `sqlite_db` into `database`
    (\\copy from a TSV file), then move the experiment id sequence past the copied ids and ANALYZE."""
    source = sqlite3.connect(sqlite_db)
    with tempfile.TemporaryDirectory() as tmp:
        for table in TABLES:
            columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
            path = Path(tmp) / f"{table}.tsv"
            with path.open("w") as out:
                for row in source.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {where(table)}"):
                    out.write("\t".join(_text(v) for v in row) + "\n")
            _psql(database, f"\\copy {table} ({', '.join(columns)}) FROM '{path}'")
    source.close()
    _psql(database, "SELECT setval('experiments_experiment_id_seq', (SELECT max(experiment_id) FROM experiments))")
    _psql(database, "ANALYZE")


if __name__ == "__main__":
    print(copy_to_postgres(Path(sys.argv[1]), sys.argv[2]))
