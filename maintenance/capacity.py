"""Capacity probes that are not MLflow calls: the tracking database's size (PostgreSQL through
psycopg2 directly, SQLite by file size) and the warning/critical thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from django.conf import settings

from mlopsadmin.core.formatting import human_bytes  # noqa: F401  (re-exported for callers)


def _sqlite_path(uri: str) -> Path:
    path = uri.split(":///", 1)[1] if ":///" in uri else uri.split(":", 1)[1]
    return Path("/" + path.lstrip("/") if uri.startswith("sqlite:////") else path).expanduser()


def _postgres_dsn(uri: str) -> str:
    parsed = urlparse(uri)
    return parsed._replace(scheme="postgresql").geturl()


def database_size(uri: str) -> dict[str, Any]:
    """{'kind', 'label', 'bytes', 'tables': [[name, bytes], ...], 'error'}; bytes None when unknown."""
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
    import psycopg2

    parsed = urlparse(uri)
    label = f"postgresql://{parsed.hostname}:{parsed.port or 5432}{parsed.path}"
    try:
        with psycopg2.connect(_postgres_dsn(uri), connect_timeout=10) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            total = int(cursor.fetchone()[0])
            cursor.execute(
                "SELECT relname, pg_total_relation_size(relid) FROM pg_catalog.pg_statio_user_tables "
                "ORDER BY 2 DESC LIMIT 10"
            )
            tables = [[str(name), int(size)] for name, size in cursor.fetchall()]
        conn.close()
    except psycopg2.Error as exc:
        return {"kind": "postgresql", "label": label, "bytes": None, "tables": [], "error": str(exc).strip()[:300]}
    return {"kind": "postgresql", "label": label, "bytes": total, "tables": tables}


def levels(artifact_bytes: int | None, database_bytes: int | None) -> dict[str, Any]:
    """Compare with the thresholds: {'level': ok|warning|critical, 'warning', 'critical', 'messages'}."""
    checks = [
        (
            "artifact store",
            artifact_bytes,
            settings.MAINTENANCE_ARTIFACT_WARNING_BYTES,
            settings.MAINTENANCE_ARTIFACT_CRITICAL_BYTES,
        ),
        (
            "tracking database",
            database_bytes,
            settings.MAINTENANCE_DATABASE_WARNING_BYTES,
            settings.MAINTENANCE_DATABASE_CRITICAL_BYTES,
        ),
    ]
    warning = critical = False
    messages: list[str] = []
    for name, value, warn_at, crit_at in checks:
        if value is None:
            continue
        if crit_at and value >= crit_at:
            critical = True
            messages.append(f"{name} is {human_bytes(value)} (critical at {human_bytes(crit_at)})")
        elif warn_at and value >= warn_at:
            warning = True
            messages.append(f"{name} is {human_bytes(value)} (warning at {human_bytes(warn_at)})")
    level = "critical" if critical else "warning" if warning else "ok"
    return {"level": level, "warning": warning or critical, "critical": critical, "messages": messages}
