"""One lock per model around read-check-write of its aliases.

Redis (with a TTL) when settings.REDIS_URL is set; otherwise a lease row per model in the database
(a conditional UPDATE claims it; the lease expires, so a crashed holder never blocks for long). Both
work across processes; the lease works on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from mlopsadmin.core.errors import Conflict, DomainError
from mlopsadmin.lib import locks
from registry_ui.promotion.models import ModelLock

logger = logging.getLogger(__name__)


class LockBusy(Conflict):
    def __init__(self, model_name: str) -> None:
        super().__init__(f"Another alias change of model '{model_name}' is in progress; try again in a moment.")
        self.extra = {"reason": "locked"}


class LockUnavailable(DomainError):
    status = 503
    title = "The lock service is not answering"


def _redis_key(model_name: str) -> str:
    return "mlopsadmin:promotion:lock:" + hashlib.sha256(model_name.encode()).hexdigest()


def _lease_try(model_name: str, holder: str, ttl: float) -> bool:
    now = timezone.now()
    if not ModelLock.objects.filter(model_name=model_name).exists():
        try:
            with transaction.atomic():
                ModelLock.objects.create(model_name=model_name)
        except IntegrityError:
            pass  # created concurrently
    with transaction.atomic():
        claimed = ModelLock.objects.filter(
            Q(holder="") | Q(expires_at__lt=now) | Q(expires_at__isnull=True),
            model_name=model_name,
        ).update(holder=holder, expires_at=now + timedelta(seconds=ttl))
    return claimed == 1


def _lease_renew(model_name: str, holder: str, ttl: float) -> bool:
    """Push the lease of `holder` on `model_name` `ttl` seconds ahead; False when it is no longer held."""
    with transaction.atomic():
        expires = timezone.now() + timedelta(seconds=ttl)
        return ModelLock.objects.filter(model_name=model_name, holder=holder).update(expires_at=expires) == 1


@contextmanager
def db_lock(model_name: str, *, ttl: float, wait: float, renew: bool = False) -> Iterator[None]:
    """The lease row of `model_name` for `ttl` seconds, waited for up to `wait` seconds (LockBusy after);
    with `renew`, the lease is pushed ahead every ttl/3 seconds while the block runs."""
    holder = uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while not _lease_try(model_name, holder, ttl):
        if time.monotonic() >= deadline:
            raise LockBusy(model_name)
        time.sleep(0.05)
    try:
        if renew:
            renew_lease = lambda: _lease_renew(model_name, holder, ttl)  # noqa: E731
            with locks.renewing(renew_lease, every=ttl / 3, name=f"lease {model_name}", done=connections.close_all):
                yield
        else:
            yield
    finally:
        try:
            with transaction.atomic():
                ModelLock.objects.filter(model_name=model_name, holder=holder).update(holder="", expires_at=None)
        except DatabaseError as exc:  # the work is done and recorded; the lease expires after its TTL
            logger.warning("lock lease of %s not released (%s); it expires within %.0f s", model_name, exc, ttl)


@contextmanager
def model_lock(model_name: str, *, wait: float | None = None, renew: bool = False) -> Iterator[None]:
    """The lock of `model_name` (PROMOTION_LOCK_TTL_SECONDS, waited for PROMOTION_LOCK_WAIT_SECONDS unless
    `wait` seconds are given). Raises LockBusy (409), LockUnavailable (503: Redis not answering). `renew`:
    held for as long as the block runs (a copy across servers may take minutes), renewed every TTL/3."""
    ttl = float(settings.PROMOTION_LOCK_TTL_SECONDS)
    wait = float(settings.PROMOTION_LOCK_WAIT_SECONDS) if wait is None else wait
    if settings.REDIS_URL:
        try:
            with locks.redis_lock(settings.REDIS_URL, _redis_key(model_name), ttl=ttl, wait=wait, renew=renew):
                yield
        except locks.LockNotAcquired as exc:
            raise LockBusy(model_name) from exc
        except locks.LockBackendUnavailable as exc:
            raise LockUnavailable(f"Redis is not answering; nothing was changed. {exc}") from exc
    else:
        with db_lock(model_name, ttl=ttl, wait=wait, renew=renew):
            yield
