"""A per-key lock in Redis with a TTL: the only module that imports `redis` for locking.

The lock expires on its own after `ttl` seconds, so a crashed holder never blocks a key forever.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis

# redis is imported on the first lock (it takes ~1 s; manage.py commands and many processes never lock).
logger = logging.getLogger(__name__)

_clients: dict[str, Any] = {}
SOCKET_TIMEOUT = 5.0  # seconds for each Redis command and connect


class LockNotAcquired(Exception):
    """Someone else holds the lock and did not release it within the wait time."""


class LockBackendUnavailable(Exception):
    """Redis could not be reached, or did not answer within the socket timeout (a frozen server)."""


def _client(url: str) -> redis.Redis:
    import redis

    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT)
    return _clients[url]


@contextmanager
def renewing(
    renew: Callable[[], bool], *, every: float, name: str, done: Callable[[], None] | None = None
) -> Iterator[None]:
    """Call `renew()` every `every` seconds in a daemon thread while the block runs (a lock held for
    longer than its TTL, a task's heartbeat). `renew` returns False when what it renews was lost (a lock
    taken over after an expiry, a swept task): renewal stops then. An exception of `renew` is logged and
    the next round tries again. `done()` runs in the thread as it ends (close its database connections)."""
    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.wait(every):
                try:
                    if not renew():
                        logger.warning("%s was lost while held; renewal stopped", name)
                        return
                except Exception as exc:  # a blip of the store: the next round tries again
                    logger.warning("%s not renewed (%s); retrying in %.1f s", name, exc, every)
        finally:
            if done is not None:
                done()

    thread = threading.Thread(target=loop, name=f"renew-{name[-24:]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + SOCKET_TIMEOUT)


@contextmanager
def redis_lock(url: str, key: str, *, ttl: float, wait: float, renew: bool = False) -> Iterator[None]:
    """Hold `key` for at most `ttl` seconds; wait up to `wait` seconds to get it. With `renew`, the TTL is
    reset every ttl/3 seconds while the block runs, so the lock is held however long the block takes
    (a crashed process stops renewing: the key still expires `ttl` seconds later).

    Raises LockNotAcquired when another holder keeps it past `wait`, LockBackendUnavailable when Redis
    refuses the connection or does not answer within SOCKET_TIMEOUT seconds (a stopped or frozen server:
    redis-py raises TimeoutError then, which is no ConnectionError). A lock whose SET was sent but whose
    answer was lost may still be taken when Redis resumes: it expires after `ttl`, like a crashed holder's."""
    import redis

    lock = _client(url).lock(key, timeout=ttl, blocking=wait > 0, blocking_timeout=wait or None, thread_local=False)
    try:
        acquired = lock.acquire()
    except redis.exceptions.RedisError as exc:  # ConnectionError, TimeoutError (frozen server), ...
        raise LockBackendUnavailable(f"Redis unreachable: {exc}") from exc
    if not acquired:
        raise LockNotAcquired(key)

    def reacquire() -> bool:
        try:
            return bool(lock.reacquire())
        except redis.exceptions.LockNotOwnedError:  # expired and maybe taken by another holder
            return False

    try:
        if renew:
            with renewing(reacquire, every=ttl / 3, name=f"lock {key[-12:]}"):
                yield
        else:
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
