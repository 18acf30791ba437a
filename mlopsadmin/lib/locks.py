"""A per-key lock in Redis with a TTL: the only module that imports `redis` for locking.

The lock expires on its own after `ttl` seconds, so a crashed holder never blocks a key forever.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis

# redis is imported on the first lock (it takes ~1 s; manage.py commands and many processes never lock).
logger = logging.getLogger(__name__)

_clients: dict[str, Any] = {}


class LockNotAcquired(Exception):
    """Someone else holds the lock and did not release it within the wait time."""


class LockBackendUnavailable(Exception):
    """Redis could not be reached."""


def _client(url: str) -> redis.Redis:
    import redis

    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    return _clients[url]


@contextmanager
def redis_lock(url: str, key: str, *, ttl: float, wait: float) -> Iterator[None]:
    """Hold `key` for at most `ttl` seconds; wait up to `wait` seconds to get it."""
    import redis

    lock = _client(url).lock(key, timeout=ttl, blocking=wait > 0, blocking_timeout=wait or None, thread_local=False)
    try:
        acquired = lock.acquire()
    except redis.exceptions.ConnectionError as exc:
        raise LockBackendUnavailable(f"Redis unreachable: {exc}") from exc
    if not acquired:
        raise LockNotAcquired(key)
    try:
        yield
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            pass  # it expired (TTL) while held: nothing to release
        except redis.exceptions.RedisError as exc:
            # Redis went away while the lock was held. The work under the lock is done (and recorded); a
            # failed release must not turn it into an error. The key expires on its own after the TTL.
            logger.warning("lock %s not released (Redis: %s); it expires within %.0f s", key[-12:], exc, ttl)
