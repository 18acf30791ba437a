"""Helpers of the settings module: environment readers, the Redis cache and the logging configuration
(kept apart so settings.py stays a list of settings). Pure functions; nothing here imports Django or an SDK."""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path
from typing import Any


def package_dir(name: str) -> Path:
    """The folder of the installed top-level package `name`, found without importing it.
    Raises ModuleNotFoundError when it is not installed."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"package {name!r} is not installed", name=name)
    return Path(spec.origin).parent


class SettingError(ValueError):
    """An environment variable that cannot be read as what it sets. Every process refuses to start with it
    (manage.py prints the message alone): a misspelt EMAIL_USE_TLS or OIDC_VERIFY_SSL must never quietly
    turn TLS off. The message names the variable, never its value (it may be a secret put in the wrong place)."""


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def env_bool(name: str, default: bool) -> bool:
    """`name` as a boolean: 1/true/yes/on or 0/false/no/off, any case; `default` when unset or blank.
    Raises SettingError on any other value."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS or value in FALSE_WORDS:
        return value in TRUE_WORDS
    raise SettingError(f"{name} must be one of 1/true/yes/on or 0/false/no/off (any case).")


def env_int(name: str, default: int) -> int:
    """`name` as an int; `default` when unset or blank. Raises SettingError on anything else."""
    value = os.environ.get(name, "").strip()
    try:
        return int(value) if value else default
    except ValueError:
        raise SettingError(f"{name} must be a whole number.") from None


def env_float(name: str, default: float) -> float:
    """`name` as a finite number; `default` when unset or blank. Raises SettingError on anything else,
    `inf` and `nan` included (a timeout or window of infinity breaks later, page by page)."""
    value = os.environ.get(name, "").strip()
    try:
        number = float(value) if value else default
    except ValueError:
        raise SettingError(f"{name} must be a number.") from None
    if not math.isfinite(number):
        raise SettingError(f"{name} must be a finite number, not {value!r}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    """`name` split at commas, items trimmed, empty items dropped; `default` when unset."""
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def redis_caches(url: str) -> dict[str, Any]:
    """The cache on Redis, failing open: with Redis down a read is a miss and a write is skipped, with a
    log line (logger mlopsadmin.cache), so login (its rate-limit counter) and every page keep working;
    the rate limit is not enforced meanwhile. Promotion locks do not use the cache and refuse clearly."""
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }


def logging_config(level: str) -> dict[str, Any]:
    """Django's LOGGING: one console handler at `level` (e.g. "INFO"); chatty libraries capped."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"handlers": ["console"], "level": level},
        # botocore's DEBUG lines carry signed request headers (the S3 access key id), even with LOG_LEVEL=DEBUG.
        # Every record is also scrubbed of configured secrets (mlopsadmin.lib.redaction).
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "alembic": {"level": "WARNING"},
            "botocore": {"level": "INFO"},
        },
    }
