"""A per-key lock in Redis with a TTL: the only module that imports `redis` for locking.

The lock expires on its own after `ttl` seconds, so a crashed holder never blocks a key forever.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import redis

_clients: dict[str, redis.Redis] = {}


class LockNotAcquired(Exception):
    """Someone else holds the lock and did not release it within the wait time."""


class LockBackendUnavailable(Exception):
    """Redis could not be reached."""


def _client(url: str) -> redis.Redis:
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    return _clients[url]


@contextmanager
def redis_lock(url: str, key: str, *, ttl: float, wait: float) -> Iterator[None]:
    """Hold `key` for at most `ttl` seconds; wait up to `wait` seconds to get it."""
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
        with suppress(redis.exceptions.LockError):  # it expired (TTL) while held: nothing to release
            lock.release()
