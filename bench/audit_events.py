"""The audit log the audit-page bench measures: `generate` appends events with a correct hash chain
(computed in Python with audit_record's digest) loaded with COPY (PostgreSQL), teams, actors, actions,
targets and reasons drawn from a seeded generator, and 1 in 50 task starts heading an operation of
5-100 run deletions. Import after django.setup() (bench/audit_page.py does)."""

from __future__ import annotations

import io
import random
import sys
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection

from mlopsadmin.audit.services import (
    DIGEST_FIELDS,
    GENESIS_HASH,
    KEYED,
    UNKEYED,
    _canonical,
    digest_values,
)
from mlopsadmin.core.models import AuditEvent

TEAMS = ["search", "fraud", "recommendation", "churn", ""]
ACTORS = [f"user{n:03d}" for n in range(200)] + ["system:cleanup", "system:reaper", "system:sync"]
ACTIONS = [
    "approval.request",
    "approval.decide",
    "approval.withdraw",
    "alias.move",
    "version.promote",
    "version.rollback",
    "model.edit_tags",
    "experiment.rename",
    "experiment.tag_runs",
    "run.delete",
    "checklist.tick",
    "checklist.sign_off",
    "task.start",
    "task.finish",
    "team.update",
    "user.update",
]
WORDS = [
    "promotion",
    "weekly",
    "retrain",
    "incident",
    "evidence",
    "review",
    "cleanup",
    "stale",
    "drift",
    "hotfix",
    "rollback",
    "champion",
    "quarterly",
    "audit",
    "baseline",
]
# The COPY columns: what audit_record hashes, then the hash and the chain version it used.
COLUMNS = (*DIGEST_FIELDS, "event_hash", "chain_version")


def _target(rng: random.Random, action: str) -> tuple[str, str, dict | None, dict | None]:
    model = f"model-{rng.randrange(2000)}"
    version = str(rng.randrange(1, 40))
    if action.startswith(("approval.", "version.")):
        return "model_version", f"{model}/{version}", {"state": "pending"}, {"state": "approved", "version": version}
    if action in ("alias.move", "model.edit_tags"):
        return (
            "model",
            model,
            {"alias": "champion", "version": str(int(version) - 1)},
            {"alias": "champion", "version": version},
        )
    if action.startswith("experiment."):
        exp = str(rng.randrange(1, 5000))
        return "experiment", exp, {"name": f"/t/old-{exp}"}, {"name": f"/t/new-{exp}"}
    if action == "run.delete":
        return (
            "run",
            f"{rng.getrandbits(64):016x}",
            {"status": "FINISHED"},
            {"experiment_id": str(rng.randrange(1, 5000)), "lifecycle_stage": "deleted"},
        )
    if action.startswith("checklist."):
        return "checklist", str(rng.randrange(1, 3000)), None, {"item": "backup verified", "done": True}
    if action.startswith("task."):
        return "task", str(rng.randrange(1, 50000)), {"state": "queued"}, {"state": "done", "processed": 500}
    return (
        "team" if action.startswith("team") else "user",
        f"u{rng.randrange(300)}",
        {"roles": []},
        {"roles": ["Operator"]},
    )


def generate(count: int, *, seed: int = 8, batch: int = 50_000) -> float:
    """Append `count` chained events with COPY; returns seconds taken."""
    rng = random.Random(seed)
    started = time.perf_counter()
    chain_version = KEYED if settings.AUDIT_HMAC_KEY else UNKEYED  # as audit_record writes them
    last = AuditEvent.objects.order_by("-id").values_list("event_hash", "occurred_at").first()
    prev_hash, moment = (last[0], last[1]) if last else (GENESIS_HASH, datetime(2025, 1, 1, tzinfo=UTC))
    moment = max(moment, datetime.now(UTC) - timedelta(seconds=30 * count))  # ~1 year at 1M events
    with connection.cursor() as cursor:  # COPY takes ids from the sequence one by one: predict them
        cursor.execute("SELECT last_value, is_called FROM core_auditevent_id_seq")
        last_value, is_called = cursor.fetchone()
    next_id = last_value + 1 if is_called else last_value
    written = 0
    operation: tuple[int, int] | None = None  # (head id, items left): a cleanup and its run deletions
    while written < count:
        buffer = io.StringIO()
        for _ in range(min(batch, count - written)):
            moment += timedelta(seconds=rng.randint(1, 59), microseconds=rng.randrange(1_000_000))
            action = "run.delete" if operation else rng.choice(ACTIONS)
            operation_id = operation[0] if operation else None
            kind, target_id, before, after = _target(rng, action)
            reason = " ".join(rng.sample(WORDS, 3)) if rng.random() < 0.6 else ""
            if rng.random() < 0.001:
                reason += f" INC-{rng.randrange(100000)}"
            values = {
                "occurred_at": moment,
                "actor_id": None,
                "actor_name": rng.choice(ACTORS),
                "action": action,
                "target_kind": kind,
                "target_id": target_id,
                "team": rng.choice(TEAMS),
                "before": before,
                "after": after,
                "reason": reason,
                "request_id": f"{rng.getrandbits(128):032x}",
                "outcome": rng.choice(["ok"] * 18 + ["partial", "failed"]),
                "prev_hash": prev_hash,
                "operation_id": operation_id,
            }
            event_hash = digest_values(values, chain_version)
            row = [
                moment.isoformat(),
                "\\N",
                values["actor_name"],
                action,
                kind,
                target_id,
                values["team"],
                _copy_json(before),
                _copy_json(after),
                reason,
                values["request_id"],
                values["outcome"],
                prev_hash,
                "\\N" if operation_id is None else str(operation_id),
                event_hash,
                str(chain_version),
            ]
            buffer.write("\t".join(_copy_text(v) for v in row) + "\n")
            prev_hash = event_hash
            if operation is not None:
                operation = (operation[0], operation[1] - 1) if operation[1] > 1 else None
            elif action == "task.start" and rng.random() < 0.02:  # 1 in 50 task starts: 5-100 run deletions
                operation = (next_id, rng.randint(5, 100))
            next_id += 1
            written += 1
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(f"COPY core_auditevent ({', '.join(COLUMNS)}) FROM STDIN", buffer)
        print(f"  {written:,} events", file=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE core_auditevent")
    return time.perf_counter() - started


def _copy_json(value: object) -> str:
    return "\\N" if value is None else _canonical(value)


def _copy_text(value: str) -> str:
    if value == "\\N":
        return value
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
