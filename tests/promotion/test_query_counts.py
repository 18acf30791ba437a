"""A promotion reads each thing once (issue 20): the known alias state, the gate settings, the candidate's
approval; the audit events join their transaction. Its database queries are a fixed number, through the
service and through the API, and every guarantee stays: the lock, the gate read under it, the pending and
the outcome audit events, the alias history."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import index_store
from registry_ui.promotion import services
from registry_ui.promotion.models import AliasEvent

pytestmark = pytest.mark.django_db

# owning team (1), roles and memberships (1), the index (aliases, both versions, their runs: one query), gate
# settings, gate policy, metric names, the known state (with whether it has open intents), the approval requests
# and imported approval (one query); the pending audit event (chain lock, head, insert) and the intent; the index,
# the history rows (one insert), the state (updated, not read again), the intent and the outcome audit event; plus
# the transactions' savepoints under the test's transaction (two commits). The notification is recorded by a
# worker after commit (notifications.deferred), none of its queries here. Before issue 20: 49; then 41 (the
# notification's settings, leads, watchers, team webhook, known keys, insert); then 31 (owning team in 3 queries,
# the known state read again for the outcome, roles and memberships apart); then 28 for an indexed model (27 not
# indexed: the row lock's transaction, the open intents, the approvals in two queries, the index in two).
SERVICE_QUERIES = 23
API_QUERIES = SERVICE_QUERIES + 4  # the session and its user read, the session saved (test client login)
AUDIT_CHAIN = ("SELECT pg_advisory_xact_lock", 'SELECT "core_auditevent"."event_hash"')  # once per event


def _repeated(sql: list[str]) -> list[tuple[str, int]]:
    return [(s[:160], n) for s, n in Counter(sql).items() if n > 1 and not s.startswith(AUDIT_CHAIN)]


def _ready(make_model) -> str:  # type: ignore[no-untyped-def]
    name = make_model([0.85, 0.9], aliases={"champion": 1, "challenger": 2})
    index_store.model_refresh(name)  # in the registry index, as every model is once synced
    services.alias_reconcile(model_name=name)  # known to mlopsadmin: its baseline is recorded
    return name


@pytest.mark.postgres
def test_a_promotion_makes_a_fixed_number_of_queries_each_read_once(make_model, personas, login) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the counts are PostgreSQL's (its chain lock is a query)")
    name = _ready(make_model)
    audit_before = AuditEvent.objects.filter(action="model.promote", target_id=name).count()
    with CaptureQueriesContext(connection) as queries:
        result = services.alias_promote(model_name=name, actor=personas["lead_search"])
    sql = [q["sql"] for q in queries.captured_queries]
    assert result.outcome == "ok"
    assert mlf.get_registered_model(name).aliases == {"champion": "2", "previous-champion": "1"}
    assert not _repeated(sql), _repeated(sql)
    assert len(sql) == SERVICE_QUERIES, "\n".join(s[:160] for s in sql)
    assert sum(s.startswith("SELECT pg_advisory_xact_lock") for s in sql) == 2  # the intent and the outcome
    assert sum('FROM "promotion_aliasstate"' in s for s in sql) == 1  # read once, under the model's lock
    # Two commits, each waiting on the disk (~4 ms, more on a busy one): the intent before MLflow is touched and
    # the outcome. The known state is read without a row lock (the model's lock serialises its writers), so its
    # read commits nothing (issue 20: a third commit, a row lock's, was part of the overhead's tail).
    assert sum(s.startswith("SAVEPOINT") for s in sql) == 2, [s[:80] for s in sql if "SAVEPOINT" in s]
    assert not any("FOR UPDATE" in s for s in sql)
    # The candidate's approval requests and its imported approval: one query (UNION ALL).
    tables = ('FROM "registry_ui_approvalrequest"', 'FROM "registry_ui_importedapproval"')
    approval = [s for s in sql if any(table in s for table in tables)]
    assert len(approval) == 1 and "UNION ALL" in approval[0], approval
    # Whether the model has open intents comes with the known state (none here: they are not read).
    assert not any(s.startswith('SELECT "promotion_aliaschangeintent"') for s in sql), sql
    assert sum(s.startswith('UPDATE "promotion_aliasstate"') for s in sql) == 1
    audited = AuditEvent.objects.filter(action="model.promote", target_id=name).order_by("id")
    assert [e.outcome for e in audited[audit_before:]] == ["pending", "ok"]
    assert AliasEvent.objects.filter(model_name=name, action="promote").count() == 3

    other = _ready(make_model)
    client = login("lead_search")
    with CaptureQueriesContext(connection) as queries:
        response = client.post(f"/api/v1/models/{other}/promote", data={}, content_type="application/json")
    assert response.status_code == 200 and response.json()["outcome"] == "ok"
    sql = [q["sql"] for q in queries.captured_queries]
    assert not _repeated(sql), _repeated(sql)
    assert len(sql) == API_QUERIES, "\n".join(s[:160] for s in sql)


def test_a_promotion_of_an_indexed_model_reads_the_index_once(make_model, personas) -> None:
    """The registry index names the candidate's and the champion's source runs before MLflow answers: the
    model's aliases, both versions and their runs come in one query (before: the model's row, then its versions)."""
    name = make_model([0.85, 0.9], aliases={"champion": 1, "challenger": 2})
    index_store.model_refresh(name)
    services.alias_reconcile(model_name=name)
    with CaptureQueriesContext(connection) as queries:
        result = services.alias_promote(model_name=name, actor=personas["lead_search"])
    assert result.outcome == "ok" and result.after == {"champion": "2", "previous-champion": "1"}
    reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and '"registry_ui_indexed' in q["sql"]
    ]
    assert len(reads) == 1, reads
    assert result.gate is not None and result.gate["passed"]
