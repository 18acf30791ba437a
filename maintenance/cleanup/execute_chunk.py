"""Cleanup execute, one chunk of a plan's items at a time (issue 20: bulk actions with the same guarantees).

Per chunk: the items are claimed (or taken over) with one update; every run is re-checked at that moment in
ONE read (the backend store, read-only, when it is usable and MAINTENANCE_WRITE_STORE is on, else one
`search_runs` per BULK_READ runs) plus one look-up of the versions naming them; the deletable ones are marked
DELETING in one transaction under the task's claim, then deleted — `MAINTENANCE_WRITE_WORKERS` REST requests
at a time, or through MLflow's own store layer in-process where the store is used; a delete that failed is
read back (it may have landed) before anything is recorded; the outcomes and one `run.delete` audit event per
deleted run are recorded in item order in one transaction. A delete whose outcome stays unknown (MLflow
unreachable) leaves its item DELETING and raises MlflowUnavailable after the rest of the chunk is recorded:
the retry or a resume reads MLflow back (claims.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from maintenance.cleanup.claims import (
    RECOVERED_NOTE,
    Settlement,
    deletion_event,
    item_delete_was_sent,
    items_sending,
    items_take,
)
from maintenance.cleanup.protection import REGISTERED_MODEL_TAG, LiveProtection, exclusion_reason
from maintenance.models import CleanupPlan, ItemOutcome, PlanItem, TaskRun
from maintenance.task_runs import actor_for
from maintenance.work_items import Sources
from mlopsadmin.lib import mlflow_client as mlf

logger = logging.getLogger(__name__)


def ineligible_now(fresh: mlf.Run, plan: CleanupPlan, protected: set[str]) -> str:
    """Why the plan may no longer delete this run, read now ('' when it still may). `protected`: the
    run ids registered model versions protect now (LiveProtection.current())."""
    if fresh.lifecycle_stage == "deleted":
        return "already deleted"
    if fresh.status not in plan.statuses:
        return f"status changed to {fresh.status} since planning"
    if not fresh.end_time or fresh.end_time >= plan.cutoff_ms:
        return "ended after the plan's cutoff (changed since planning)"
    reason = exclusion_reason(fresh, protected)
    return f"{reason} (changed since planning)" if reason else ""


def _read(items: list[PlanItem], run_ids: list[str], sources: Sources) -> dict[str, mlf.Run]:
    experiments = sorted({item.experiment_id for item in items})
    if sources.store_uri:
        try:
            return mlf.get_runs(run_ids, experiments, store_uri=sources.store_uri, tag_keys=(REGISTERED_MODEL_TAG,))
        except mlf.BackendStoreError:
            pass  # the tracking API gives the same answer, slower
    return mlf.get_runs(run_ids, experiments, workers=sources.workers)


@dataclass
class Prepared:
    """A chunk claimed and re-checked: `settle` the outcomes known without a write, `deletable` the items whose
    runs may be deleted, `marked` those of them marked DELETING (chunk_mark, right before their deletes are
    sent), `fresh` what MLflow showed for the chunk's runs."""

    settle: list[Settlement] = field(default_factory=list)
    deletable: list[PlanItem] = field(default_factory=list)
    fresh: dict[str, mlf.Run] = field(default_factory=dict)
    marked: list[PlanItem] = field(default_factory=list)


def chunk_prepare(
    item_ids: list[int], plan: CleanupPlan, protection: LiveProtection, run: TaskRun, sources: Sources
) -> Prepared:
    """Claim and re-check one chunk (nothing marked, nothing sent). Raises TaskLost (claim taken over) or
    MlflowUnavailable from the re-check."""
    items = items_take(item_ids, run)
    if not items:
        return Prepared()
    fresh = _read(items, [item.run_id for item in items], sources)
    protected = protection.current()  # versions registered (in any source form) since the last chunk count too
    settle: list[Settlement] = []
    send: list[PlanItem] = []
    for item in items:
        found = fresh.get(item.run_id)
        if found is None:
            settle.append((item, ItemOutcome.SKIPPED, "run no longer exists", None))
        elif item_delete_was_sent(item, found):
            actor = actor_for(item.claimed_by or run)
            event = deletion_event(item, plan, status=found.status, actor=actor, note=RECOVERED_NOTE)
            settle.append((item, ItemOutcome.DELETED, f"deleted by plan #{plan.pk} ({RECOVERED_NOTE})", event))
        elif reason := ineligible_now(found, plan, protected):
            settle.append((item, ItemOutcome.SKIPPED, reason, None))
        else:
            send.append(item)
    return Prepared(settle, send, fresh)


def chunk_mark(prepared: Prepared, run: TaskRun) -> None:
    """Mark the chunk's deletable items DELETING under `run`'s claim, right before their deletes are sent (a
    DELETING item is read back as sent by whoever takes it up). Raises TaskLost (swept while paused: what was
    read is stale, send nothing)."""
    prepared.marked = items_sending(prepared.deletable, run)


def chunk_send(prepared: Prepared, sources: Sources) -> dict[str, mlf.MlflowError | None]:
    """Send the deletes of a prepared chunk (`sources.workers` at a time over REST, or through MLflow's store
    layer): run id → None or its write's error. Never raises for one run; touches no local database."""
    return mlf.delete_runs(
        [item.run_id for item in prepared.marked],
        workers=sources.workers,
        store_uri=sources.store_uri,
        artifacts_destination=settings.MLFLOW_ARTIFACTS_DESTINATION,
    )


def chunk_finish(
    prepared: Prepared,
    results: dict[str, mlf.MlflowError | None],
    plan: CleanupPlan,
    run: TaskRun,
    sources: Sources,
) -> list[Settlement]:
    """The chunk's settlements once its deletes returned (a failed one read back first). Raises ChunkUnknown
    carrying them when some delete's outcome is unknown."""
    unknown = _settle_sent(prepared.marked, results, prepared.fresh, plan, run, sources, prepared.settle)
    if unknown:
        raise ChunkUnknown(prepared.settle, unknown)
    return prepared.settle


def execute_chunk(
    item_ids: list[int], plan: CleanupPlan, protection: LiveProtection, run: TaskRun, sources: Sources
) -> list[Settlement]:
    """Claim, re-check and delete one chunk; returns the settlements to record (claims.items_settle, with the
    progress, in one transaction). Raises TaskLost (claim taken over: nothing sent), MlflowUnavailable from the
    re-check (nothing sent), or ChunkUnknown carrying the settlements when some delete's outcome is unknown."""
    prepared = chunk_prepare(item_ids, plan, protection, run, sources)
    chunk_mark(prepared, run)
    return chunk_finish(prepared, chunk_send(prepared, sources), plan, run, sources)


def execute_chunks(
    chunks: list[list[int]],
    plan: CleanupPlan,
    protection: LiveProtection,
    run: TaskRun,
    sources: Sources,
    record: Callable[[list[Settlement]], None],
) -> None:
    """Execute the chunks (item ids) in order, each chunk's settlements handed to `record` (one transaction)
    before the next chunk's. Over REST the loop is pipelined: the next chunk is claimed and re-checked while
    this chunk's deletes are in flight, and a chunk is recorded while the next one's deletes are — never more
    than one chunk's deletes in flight (`sources.workers` requests), so a run is re-checked at most one chunk's
    deletes before its own is sent. A chunk is marked "delete sent" only once the previous chunk's deletes
    returned, right before its own go out: a worker lost meanwhile leaves it claimed, re-checked by whoever takes
    the plan up again, never read back as a deletion it did not send (claims.py). Through MLflow's store layer
    (fast, one writer) chunk after chunk. Raises what execute_chunk raises, after recording what is known."""
    if sources.store_uri:
        for ids in chunks:
            try:
                settlements = execute_chunk(ids, plan, protection, run, sources)
            except ChunkUnknown as exc:
                record(exc.settlements)
                raise
            record(settlements)
        return
    in_flight: tuple[Prepared, Future[dict[str, mlf.MlflowError | None]]] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cleanup-delete") as sender:
        try:
            for ids in chunks:
                prepared = chunk_prepare(ids, plan, protection, run, sources)
                finished: list[Settlement] | None = None
                if in_flight is not None:
                    previous, in_flight = in_flight, None
                    finished = _finish_or_record(previous[0], previous[1].result(), plan, run, sources, record)
                try:
                    chunk_mark(prepared, run)
                except BaseException:
                    if finished is not None:  # the previous chunk's outcomes are known: record them first
                        record(finished)
                    raise
                in_flight = (prepared, sender.submit(chunk_send, prepared, sources))
                if finished is not None:
                    record(finished)
            if in_flight is not None:
                previous, in_flight = in_flight, None
                record(_finish_or_record(previous[0], previous[1].result(), plan, run, sources, record))
        except BaseException:
            if in_flight is not None:  # its deletes were sent: wait for them and record what is known
                _drain(in_flight[0], in_flight[1], plan, run, sources, record)
            raise


def _finish_or_record(
    prepared: Prepared,
    results: dict[str, mlf.MlflowError | None],
    plan: CleanupPlan,
    run: TaskRun,
    sources: Sources,
    record: Callable[[list[Settlement]], None],
) -> list[Settlement]:
    try:
        return chunk_finish(prepared, results, plan, run, sources)
    except ChunkUnknown as exc:
        record(exc.settlements)
        raise


def _drain(
    prepared: Prepared,
    sending: Future[dict[str, mlf.MlflowError | None]],
    plan: CleanupPlan,
    run: TaskRun,
    sources: Sources,
    record: Callable[[list[Settlement]], None],
) -> None:
    """Best effort while another error is on its way up: record the in-flight chunk once its deletes
    returned. What cannot be recorded stays DELETING and is read back by the resume."""
    try:
        record(_finish_or_record(prepared, sending.result(), plan, run, sources, record))
    except Exception as exc:  # the original error is the one raised; this one is logged
        logger.warning("cleanup plan #%s: in-flight chunk left to the resume: %s", plan.pk, exc)


class ChunkUnknown(mlf.MlflowUnavailable):
    """Some deletes of a chunk have an unknown outcome (MLflow unreachable, also when read back): their
    items stay DELETING; `settlements` are the chunk's known outcomes, to record before giving up."""

    def __init__(self, settlements: list[Settlement], unknown: list[str]) -> None:
        super().__init__(
            f"MLflow unreachable while deleting {len(unknown)} runs (e.g. {unknown[0]}): their outcome is read "
            f"back when the task resumes",
            operation="delete_run",
        )
        self.settlements = settlements


def _settle_sent(
    marked: list[PlanItem],
    results: dict[str, mlf.MlflowError | None],
    fresh: dict[str, mlf.Run],
    plan: CleanupPlan,
    run: TaskRun,
    sources: Sources,
    settle: list[Settlement],
) -> list[str]:
    """Outcomes of the sent deletes (appended to `settle`); a failed one is read back first: MLflow showing
    the run deleted means it was deleted. Returns the run ids whose outcome stays unknown."""
    failed = [item for item in marked if results.get(item.run_id) is not None]
    shown: dict[str, mlf.Run] = {}
    unreadable = False
    if failed:
        try:
            shown = _read(failed, [item.run_id for item in failed], sources)
        except mlf.MlflowError:
            unreadable = True
    unknown: list[str] = []
    actor = actor_for(run)
    for item in marked:
        error = results.get(item.run_id)
        landed = error is None or (item.run_id in shown and shown[item.run_id].lifecycle_stage == "deleted")
        if landed:
            status = fresh[item.run_id].status
            event: dict[str, Any] = deletion_event(item, plan, status=status, actor=actor)
            settle.append((item, ItemOutcome.DELETED, f"deleted by plan #{plan.pk}", event))
        elif unreadable or isinstance(error, mlf.MlflowUnavailable):
            unknown.append(item.run_id)  # stays DELETING: read back by the retry or a resume
        else:
            settle.append((item, ItemOutcome.FAILED, str(error), None))
    return unknown
