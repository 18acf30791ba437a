"""Metadata tag writes whose outcome MLflow has not settled (issue 14: read-back is the truth, later too).

`version_tag_set` records a TagWriteWatch when a tag write's answer was lost and either MLflow could not be
read back (outcome `unknown`) or the read-back did not show the tag yet (outcome `failed`, but MLflow may still
apply it from its backlog). `tag_writes_resolve` (run first by the approvals import, hourly, and by
`manage.py import_approvals`) reads MLflow again and records what it shows, attributed to the person who wrote
the tag — never left as `unknown`, never a late change nobody recorded:

- the tag shows the value asked for → one `model_version.tag_set` event, outcome `ok` (applied late, or read
  back later);
- an `unknown` outcome whose tag does not show it → outcome `failed` (MLflow shows the tag as ...);
- a `failed` one with nothing landed → kept until `watch_until`, then dropped (as recorded).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from mlopsadmin.audit.services import actor_label, audit_record
from registry_ui import index_store
from registry_ui.models import TagWriteWatch
from registry_ui.tag_writes import version_tags_read

logger = logging.getLogger(__name__)

WATCH_SECONDS = 600  # a write whose answer was lost can still be applied from the server's backlog
APPLIED_LATE = "Applied late by MLflow (the tag write's answer was lost; the read-back did not show it yet)"
READ_BACK_LATER = "Outcome read back later from MLflow (the tag write's answer was lost and MLflow was not readable)"


def tag_write_watch(
    *,
    actor: Any,
    model_name: str,
    version: str,
    key: str,
    wanted: str | None,
    before: str | None,
    team: str,
    recorded: str,
) -> None:
    """Watch one tag write whose answer was lost (`recorded`: the outcome recorded now, unknown or failed).
    Call inside the transaction that records that outcome."""
    TagWriteWatch.objects.create(
        model_name=model_name,
        version=version,
        key=key,
        wanted=wanted,
        before=before,
        actor=actor if actor is not None and not isinstance(actor, str) else None,
        actor_name=actor_label(actor)[:150],
        team=team,
        recorded=recorded,
        watch_until=timezone.now() + timedelta(seconds=WATCH_SECONDS),
    )


def tag_writes_resolve(*, model_name: str | None = None) -> int:
    """Settle the watched tag writes (of one model, or all) from what MLflow shows; returns how many were
    settled (an unreadable MLflow leaves them for the next run)."""
    watches = TagWriteWatch.objects.order_by("id")
    if model_name:
        watches = watches.filter(model_name=model_name)
    return sum(_resolve_one(pk) for pk in watches.values_list("pk", flat=True))


def _resolve_one(pk: int) -> bool:
    with transaction.atomic():
        watch = TagWriteWatch.objects.select_for_update().filter(pk=pk).first()
        if watch is None:
            return False
        observed = version_tags_read(watch.model_name, watch.version)
        if observed is None:
            return False  # still unreadable: the next run tries again
        shown = observed.get(watch.key)
        late = watch.recorded != "unknown"
        if shown != watch.wanted and late and timezone.now() < watch.watch_until:
            return False  # nothing landed yet: watched until then
        watch.delete()
        if shown != watch.wanted and late:
            return True  # nothing landed within the watch: as recorded
        index_store.version_tags_record(watch.model_name, watch.version, dict(observed), replace=True)
        landed = shown == watch.wanted
        audit_record(
            actor=watch.actor or watch.actor_name,
            action="model_version.tag_set",
            target_kind="model_version",
            target_id=f"{watch.model_name}/{watch.version}",
            team=watch.team,
            before={watch.key: watch.before},
            after={watch.key: shown},
            outcome="ok" if landed else "failed",
            reason=(APPLIED_LATE if late else READ_BACK_LATER)
            + (": MLflow shows the value asked for." if landed else ": MLflow does not show the value asked for."),
        )
    return True
