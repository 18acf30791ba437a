"""Claims of a task's work items (a cleanup's PlanItem, a reaper list's ReapItem), one at a time or a chunk
at once. An item goes pending → claimed (held by a task run, nothing sent yet) → sending (its write is about
to be sent) → an outcome; a stopped task leaves items claimed or sending, and whoever takes the task up
again takes them over (their holder kept: who sent the write) and settles them from what MLflow shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from mlopsadmin.lib import mlflow_client as mlf


def item_claim(
    queryset: Any, item_id: int, *, pending: str, claimed: str, unsettled: tuple[str, ...], **holder: Any
) -> Any:
    """Claim one work item (`queryset` of its model): pending → claimed with one conditional update that
    also sets `holder` (the claiming task run), or take over one that a stopped task left unsettled. Returns
    the item, or None when it is settled already (nothing to do)."""
    taken = items_claim(queryset, [item_id], pending=pending, claimed=claimed, unsettled=unsettled, **holder)
    return taken[0] if taken else None


def items_claim(
    queryset: Any, item_ids: list[int], *, pending: str, claimed: str, unsettled: tuple[str, ...], **holder: Any
) -> list[Any]:
    """item_claim for a chunk: one conditional update claims the pending ones, one read returns every item
    of `item_ids` now claimed or left unsettled by a stopped task (in id order); settled ones are left out."""
    queryset.filter(pk__in=item_ids, outcome=pending).update(outcome=claimed, **holder)
    return list(queryset.filter(pk__in=item_ids, outcome__in=unsettled).order_by("pk"))


@dataclass(frozen=True)
class Sources:
    """Where a chunk is re-checked and written: `store_uri` the backend store ('' = tracking API only)."""

    store_uri: str
    workers: int


def write_sources() -> Sources:
    """The backend store when MAINTENANCE_WRITE_STORE is on and MLFLOW_BACKEND_STORE_URI is usable (a SQL
    store on this MLflow's schema revision), else the tracking API; MAINTENANCE_WRITE_WORKERS writers."""
    uri = settings.MLFLOW_BACKEND_STORE_URI if settings.MAINTENANCE_WRITE_STORE else ""
    store = uri if uri and mlf.backend_store_writable(uri) else ""
    return Sources(store_uri=store, workers=max(1, int(settings.MAINTENANCE_WRITE_WORKERS)))
