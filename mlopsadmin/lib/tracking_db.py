"""Size of MLflow's tracking database (the capacity check): PostgreSQL through psycopg2 (read-only
queries, 10 s connect timeout), SQLite by file size (with its -wal/-shm files). Other databases are
reported as not measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import psycopg2


def _sqlite_path(uri: str) -> Path:
    path = uri.split(":///", 1)[1] if ":///" in uri else uri.split(":", 1)[1]
    return Path("/" + path.lstrip("/") if uri.startswith("sqlite:////") else path).expanduser()


def _postgres_dsn(uri: str) -> str:
    parsed = urlparse(uri)
    return parsed._replace(scheme="postgresql").geturl()


def database_size(uri: str) -> dict[str, Any]:
    """{'kind', 'label', 'bytes', 'tables': [[name, bytes], ...] (the 10 largest), 'table_count' (how many
    there are; PostgreSQL), 'error'}; bytes None when unknown."""
    if not uri:
        return {
            "kind": "unknown",
            "label": "not configured",
            "bytes": None,
            "tables": [],
            "note": "set MLFLOW_BACKEND_STORE_URI to measure the tracking database",
        }
    scheme = urlparse(uri).scheme.split("+", 1)[0]
    if scheme == "sqlite":
        path = _sqlite_path(unquote(uri))
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        if not path.exists():
            return {
                "kind": "sqlite",
                "label": str(path),
                "bytes": None,
                "tables": [],
                "error": f"SQLite file {path} not found",
            }
        return {
            "kind": "sqlite",
            "label": str(path),
            "bytes": sum(f.stat().st_size for f in files if f.exists()),
            "tables": [],
        }
    if scheme in ("postgresql", "postgres"):
        return _postgres_size(uri)
    return {"kind": scheme, "label": scheme, "bytes": None, "tables": [], "note": f"{scheme} is not measured"}


def _postgres_size(uri: str) -> dict[str, Any]:
    parsed = urlparse(uri)
    label = f"postgresql://{parsed.hostname}:{parsed.port or 5432}{parsed.path}"
    try:
        with psycopg2.connect(_postgres_dsn(uri), connect_timeout=10) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            total = int(cursor.fetchone()[0])
            cursor.execute(  # the window count is taken before LIMIT: how many tables there are
                "SELECT relname, pg_total_relation_size(relid), count(*) OVER () "
                "FROM pg_catalog.pg_statio_user_tables ORDER BY 2 DESC LIMIT 10"
            )
            rows = cursor.fetchall()
        conn.close()
    except psycopg2.Error as exc:
        return {"kind": "postgresql", "label": label, "bytes": None, "tables": [], "error": str(exc).strip()[:300]}
    tables = [[str(name), int(size)] for name, size, _ in rows]
    count = int(rows[0][2]) if rows else 0
    return {"kind": "postgresql", "label": label, "bytes": total, "tables": tables, "table_count": count}
