"""Audit page at scale: 1,000,000 events in PostgreSQL, P95 of filtered pages and deep cursor pages.

Usage (creates nothing outside the database named by DATABASE_URL; that database must exist and be
migrated):
    createdb -h 127.0.0.1 -U postgres mlopsadmin_bench_audit
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/mlopsadmin_bench_audit
    python manage.py migrate
    python bench/audit_page.py --events 1000000 --requests 400

Events are generated with a CORRECT hash chain computed in Python (same digest as audit_record) and
loaded with COPY, appended after whatever the table already holds. Then the Django test client
(full middleware stack, template rendering) requests a mix of filtered pages and deep cursor pages
as the auditor; P50/P95/max per filter kind and overall are written to bench/results/audit.md,
with EXPLAIN ANALYZE of the typical queries and the time of a full chain verification.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlopsadmin.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.audit_events import ACTIONS, ACTORS, TEAMS, WORDS, generate  # noqa: E402
from mlopsadmin.core.models import AuditEvent  # noqa: E402


def scenarios(rng: random.Random, max_id: int, heads: list[int]) -> list[tuple[str, dict[str, str]]]:
    deep = lambda: str(rng.randrange(max_id // 10, max_id))  # noqa: E731
    recent_day = (datetime.now(UTC) - timedelta(days=rng.randrange(1, 300))).date()
    operations = [("one operation (its items as rows)", {"operation": str(rng.choice(heads))})] if heads else []
    return operations + [
        ("operation items, filtered apart from their operation", {"action": "run.delete", "before": deep()}),
        ("no filter, first page", {}),
        ("no filter, deep cursor", {"before": deep()}),
        ("actor", {"actor": rng.choice(ACTORS[:200])}),
        ("actor, deep cursor", {"actor": rng.choice(ACTORS[:200]), "before": deep()}),
        ("action exact", {"action": rng.choice(ACTIONS)}),
        ("action prefix", {"action": rng.choice(["approval.", "version.", "checklist.", "task."])}),
        ("action prefix, deep cursor", {"action": "approval.", "before": deep()}),
        ("team + action prefix", {"team": rng.choice(TEAMS[:4]), "action": "version."}),
        (
            "target (model_version)",
            {"target_kind": "model_version", "target_id": f"model-{rng.randrange(2000)}/{rng.randrange(1, 40)}"},
        ),
        ("target kind, deep cursor", {"target_kind": "run", "before": deep()}),
        ("time range (one day)", {"since": recent_day.isoformat(), "until": recent_day.isoformat()}),
        (
            "time range + actor",
            {
                "since": (recent_day - timedelta(days=30)).isoformat(),
                "until": recent_day.isoformat(),
                "actor": rng.choice(ACTORS[:200]),
            },
        ),
        ("reason text (common)", {"q": rng.choice(WORDS)}),
        ("reason text (rare)", {"q": f"INC-{rng.randrange(100000)}"}),
        ("team, deep cursor", {"team": rng.choice(TEAMS[:4]), "before": deep()}),
    ]


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def explain(params: dict[str, str], client: Client) -> str:
    with CaptureQueriesContext(connection) as ctx:
        client.get("/audit/", params)
    main = [q["sql"] for q in ctx.captured_queries if "core_auditevent" in q["sql"] and "LIMIT" in q["sql"]]
    if not main:
        return "(no query)"
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + main[0])
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000, help="total events wanted in the table")
    parser.add_argument("--requests", type=int, default=450)
    parser.add_argument("--skip-verify", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Point DATABASE_URL at PostgreSQL.")
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.SECURE_SSL_REDIRECT = False
    settings.DEBUG = False

    existing = AuditEvent.objects.count()
    gen_seconds = generate(args.events - existing) if existing < args.events else 0.0
    total = AuditEvent.objects.count()
    max_id = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 1

    from django.contrib.auth.models import Group, User

    auditor, _ = User.objects.get_or_create(username="bench_auditor")
    auditor.groups.add(Group.objects.get_or_create(name="Auditor")[0])
    client = Client()
    client.force_login(auditor)

    items = AuditEvent.objects.filter(operation_id__isnull=False).order_by()
    heads = sorted(int(head) for head in items.values_list("operation_id", flat=True).distinct() if head is not None)
    rng = random.Random(1)
    timings: dict[str, list[float]] = {}
    for _name, params in scenarios(rng, max_id, heads):  # warm-up (connection, caches, template loading)
        client.get("/audit/", params)
    rounds = max(1, args.requests // len(scenarios(rng, max_id, heads)))
    for _ in range(rounds):
        for name, params in scenarios(rng, max_id, heads):
            started = time.perf_counter()
            response = client.get("/audit/", params)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (name, params, response.status_code)
            timings.setdefault(name, []).append(elapsed)
    every = [t for values in timings.values() for t in values]

    api_times = []
    for _ in range(40):
        started = time.perf_counter()
        client.get("/api/v1/audit-events", {"action": "approval.", "cursor": str(rng.randrange(1, max_id))})
        api_times.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    export = client.get("/audit/export.jsonl", {"action": "approval."})
    exported = sum(1 for _ in getattr(export, "streaming_content", []))
    export_seconds = time.perf_counter() - started

    verify_seconds, verify_report = None, None
    if not args.skip_verify:
        from mlopsadmin.audit.services import audit_verify_chain

        started = time.perf_counter()
        verify_report = audit_verify_chain()
        verify_seconds = time.perf_counter() - started

    plans = {
        name: explain(params, client)
        for name, params in scenarios(random.Random(2), max_id, heads)
        if name
        in (
            "no filter, deep cursor",
            "actor, deep cursor",
            "action prefix",
            "time range (one day)",
            "reason text (rare)",
            "team + action prefix",
            "operation items, filtered apart from their operation",
        )
    }
    write_report(
        total, gen_seconds, timings, every, api_times, exported, export_seconds, verify_seconds, verify_report, plans
    )


def write_report(
    total,
    gen_seconds,
    timings,
    every,
    api_times,
    exported,
    export_seconds,
    verify_seconds,  # noqa: ANN001
    verify_report,
    plans,
) -> None:  # noqa: ANN001
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('core_auditevent')), "
            "pg_size_pretty(pg_indexes_size('core_auditevent')), version()"
        )
        size, index_size, version = cursor.fetchone()
        cursor.execute(
            "SELECT COUNT(*), COUNT(DISTINCT operation_id) FROM core_auditevent WHERE operation_id IS NOT NULL"
        )
        items, operations = cursor.fetchone()
    lines = [
        "# Audit page at scale",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `bench/audit_page.py` on {version.split(',')[0]}, "
        "2-core machine shared with other jobs; Django test client (full middleware stack + template rendering), "
        "logged in as an auditor, DEBUG off.",
        "",
        f"- events in the table: **{total:,}** (hash chain computed in Python, loaded with COPY"
        + (f" in {gen_seconds:.0f} s" if gen_seconds else "")
        + "); table + indexes "
        f"{size}, of which indexes {index_size}",
        f"- operations (a task start with 5–100 `run.delete` items folded under its row): {operations:,}, "
        f"items {items:,}; the page lists one row per operation (issue 19)",
        f"- page requests measured: {len(every)}, page size {settings.AUDIT_PAGE_SIZE}; load average at the end "
        f"{os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[2]:.1f} (15 min)",
        f"- **overall P95 {p(every, 0.95):.1f} ms**, P50 {statistics.median(every):.1f} ms, max {max(every):.1f} ms "
        f"(target: P95 < 200 ms)",
        f"- API `GET /api/v1/audit-events?action=approval.&cursor=<random>`: P95 {p(api_times, 0.95):.1f} ms",
        f"- streamed JSON Lines export of `action=approval.`: {exported:,} events in {export_seconds:.1f} s "
        f"(constant memory: keyset chunks of 2,000)",
    ]
    if verify_seconds is not None:
        lines.append(
            f"- full chain verification: {verify_report.checked:,} events in {verify_seconds:.1f} s "
            f"({'intact' if verify_report.ok else 'BROKEN at ' + str(verify_report.first_break_id)})"
        )
    lines += ["", "| filter | n | P50 ms | P95 ms | max ms |", "|---|---:|---:|---:|---:|"]
    for name, values in timings.items():
        lines.append(
            f"| {name} | {len(values)} | {statistics.median(values):.1f} | {p(values, 0.95):.1f} | {max(values):.1f} |"
        )
    lines += ["", "## Query plans (EXPLAIN ANALYZE of the page query)", ""]
    for name, plan in plans.items():
        lines += [f"### {name}", "", "```", plan, "```", ""]
    out = ROOT / "bench" / "results" / "audit.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:12]))
    print(f"written to {out}")
    if p(every, 0.95) >= 200:
        print("P95 target missed", file=sys.stderr)


if __name__ == "__main__":
    main()
