"""System checks with stable ids: a wrong setting is reported at start-up, not on the first click."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=False)
def check_secret_key(app_configs: Any, **kwargs: Any) -> list[Error]:
    if not settings.SECRET_KEY:
        return [
            Error(
                "SECRET_KEY is not set.",
                hint="Set SECRET_KEY in the environment (a default exists only with DEBUG=true).",
                id="mlopsadmin.E001",
            )
        ]
    return []


@register()
def check_mlflow_uri(app_configs: Any, **kwargs: Any) -> list[Error | Warning]:
    problems: list[Error | Warning] = []
    uri = urlparse(settings.MLFLOW_TRACKING_URI)
    if uri.scheme not in {"http", "https"} or not uri.netloc:
        problems.append(
            Error(
                f"MLFLOW_TRACKING_URI must be an http(s) URL of a tracking server, got "
                f"{settings.MLFLOW_TRACKING_URI!r}.",
                id="mlopsadmin.E002",
            )
        )
    if bool(settings.MLFLOW_TRACKING_USERNAME) != bool(settings.MLFLOW_TRACKING_PASSWORD):
        problems.append(
            Error("Set both MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or neither.", id="mlopsadmin.E003")
        )
    if settings.MLFLOW_REQUEST_TIMEOUT <= 0:
        problems.append(Error("MLFLOW_REQUEST_TIMEOUT must be positive.", id="mlopsadmin.E004"))
    return problems


@register()
def check_action_deadline(app_configs: Any, **kwargs: Any) -> list[Error]:
    """An alias change must end (with its outcome recorded) before its lock expires or the web worker is
    killed; otherwise a second change could start meanwhile, or the caller gets the server's bare 500."""
    deadline = settings.PROMOTION_DEADLINE_SECONDS
    limit = min(settings.PROMOTION_LOCK_TTL_SECONDS, settings.WEB_TIMEOUT_SECONDS)
    if not 0 < deadline < limit:
        return [
            Error(
                f"PROMOTION_DEADLINE_SECONDS ({deadline:g}) must be positive and shorter than both "
                f"PROMOTION_LOCK_TTL_SECONDS and WEB_TIMEOUT_SECONDS ({limit:g}).",
                id="mlopsadmin.E009",
            )
        ]
    return []


@register()
def check_task_heartbeat(app_configs: Any, **kwargs: Any) -> list[Error]:
    """A running task beats every MAINTENANCE_HEARTBEAT_SECONDS; the sweep calls it lost after
    MAINTENANCE_HEARTBEAT_STALE_SECONDS of silence. Beating less than twice in that window would mark live
    tasks interrupted (and stop them)."""
    every, stale = settings.MAINTENANCE_HEARTBEAT_SECONDS, settings.MAINTENANCE_HEARTBEAT_STALE_SECONDS
    if not 0 < every * 2 <= stale:
        return [
            Error(
                f"MAINTENANCE_HEARTBEAT_SECONDS ({every:g}) must be positive and at most half of "
                f"MAINTENANCE_HEARTBEAT_STALE_SECONDS ({stale:g}).",
                id="mlopsadmin.E011",
            )
        ]
    return []


@register()
def check_broker_and_redis(app_configs: Any, **kwargs: Any) -> list[Error]:
    problems = []
    broker = urlparse(settings.CELERY_BROKER_URL)
    if broker.scheme not in {
        "redis",
        "rediss",
        "amqp",
        "amqps",
        "pyamqp",
        "sqla+sqlite",
        "sqla+postgresql",
        "sqla+postgresql+psycopg2",
        "memory",
    }:
        problems.append(Error(f"CELERY_BROKER_URL has an unsupported scheme {broker.scheme!r}.", id="mlopsadmin.E005"))
    if settings.REDIS_URL and urlparse(settings.REDIS_URL).scheme not in {"redis", "rediss", "unix"}:
        problems.append(Error("REDIS_URL must start with redis://, rediss:// or unix://.", id="mlopsadmin.E006"))
    return problems


@register()
def check_s3(app_configs: Any, **kwargs: Any) -> list[Error]:
    if settings.S3_ENDPOINT_URL and urlparse(settings.S3_ENDPOINT_URL).scheme not in {"http", "https"}:
        return [Error("S3_ENDPOINT_URL must be an http(s) URL.", id="mlopsadmin.E007")]
    if bool(settings.S3_ACCESS_KEY_ID) != bool(settings.S3_SECRET_ACCESS_KEY):
        return [
            Error("Set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (IAM role).", id="mlopsadmin.E008")
        ]
    return []


@register(Tags.security, deploy=True)
def check_production_parts(app_configs: Any, **kwargs: Any) -> list[Warning]:
    warnings = []
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        warnings.append(
            Warning("Django runs on SQLite; use DATABASE_URL=postgres://... in production.", id="mlopsadmin.W001")
        )
    if not settings.REDIS_URL:
        warnings.append(
            Warning(
                "REDIS_URL is not set: the Celery broker is a SQLite file and promotion locks use the database.",
                id="mlopsadmin.W002",
            )
        )
    return warnings


@register(Tags.security, deploy=True)
def check_audit_table_owner(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """The role the app runs as must not own the audit table: the owner can TRUNCATE it, DISABLE or DROP
    its append-only trigger, and rewrite history. See docs/audit.md ("Production: two roles")."""
    from django.db import DatabaseError, connection

    if connection.vendor != "postgresql":
        return []
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_has_role(current_user, tableowner, 'MEMBER'), current_user, tableowner "
                "FROM pg_tables WHERE tablename = 'core_auditevent'"
            )
            row = cursor.fetchone()
    except DatabaseError:
        return []  # the database is not reachable: other checks and the first request say so
    if row is None or not row[0]:
        return []
    return [
        Warning(
            f"The database role '{row[1]}' owns (or is a member of the owner '{row[2]}' of) the audit table "
            f"core_auditevent: it can TRUNCATE it and disable its append-only trigger.",
            hint="Run migrations as a separate owner role and the app as a runtime role with only INSERT and "
            "SELECT on core_auditevent (docs/audit.md, 'Production: two roles').",
            id="mlopsadmin.W005",
        )
    ]


@register(Tags.security, deploy=False)
def check_audit_keys(app_configs: Any, **kwargs: Any) -> list[Error | Warning]:
    """The audit chain's HMAC key (E010) and its checkpoint location (W006); docs/audit.md."""
    problems: list[Error | Warning] = []
    if not settings.AUDIT_HMAC_KEY:
        problems.append(
            Error(
                "AUDIT_HMAC_KEY is not set: audit events would be hashed without a key, so anyone who can write "
                "the audit table could recompute the chain.",
                hint="Set AUDIT_HMAC_KEY from a secret store (not the database); a default exists only with DEBUG.",
                id="mlopsadmin.E010",
            )
        )
    if not settings.DEBUG and not settings.AUDIT_CHECKPOINT_PATH:
        problems.append(
            Warning(
                "AUDIT_CHECKPOINT_PATH is not set: truncating the audit table or deleting its newest events "
                "cannot be detected.",
                hint="Set it to a file path on storage the database role cannot reach, or s3://bucket/key.",
                id="mlopsadmin.W006",
            )
        )
    return problems


@register()
def check_schedules(app_configs: Any, **kwargs: Any) -> list[Error]:
    """SCHEDULE_<NAME> environment variables beat could not use (mlopsadmin/schedules.py): reported at
    start-up with the variable's name instead of beat failing on its first read."""
    from mlopsadmin.schedules import environment_problems

    return [Error(problem, id="mlopsadmin.E012") for problem in environment_problems()]
