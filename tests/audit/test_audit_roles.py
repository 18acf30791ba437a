"""Production set-up of the audit table (docs/audit.md, "Production: two roles"): as the runtime role,
which only has INSERT and SELECT on core_auditevent, the trail cannot be truncated, emptied, rewritten or
have its append-only trigger disabled; `check --deploy` warns when the app's role owns the table."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.checks import check_audit_table_owner

TAMPERING = (
    "TRUNCATE core_auditevent",
    "ALTER TABLE core_auditevent DISABLE TRIGGER ALL",
    "DELETE FROM core_auditevent",
    "UPDATE core_auditevent SET reason = 'rewritten'",
    "DROP TABLE core_auditevent",
)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_runtime_role_cannot_rewrite_the_audit_table() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("database roles: PostgreSQL (DATABASE_URL)")
    import psycopg2

    role = f"mlops_runtime_{uuid.uuid4().hex[:8]}"
    grants = (
        f'CREATE ROLE "{role}" LOGIN',
        f'GRANT USAGE ON SCHEMA public TO "{role}"',
        f'GRANT SELECT, INSERT ON core_auditevent TO "{role}"',
        f'GRANT USAGE ON SEQUENCE core_auditevent_id_seq TO "{role}"',
    )
    with connection.cursor() as cursor:
        for statement in grants:
            cursor.execute(statement)
    audit_record(actor="system:test", action="test.role", target_kind="test", target_id="1")
    params = {**connection.get_connection_params(), "user": role}
    params.pop("password", None)
    runtime = psycopg2.connect(**params)
    runtime.autocommit = True
    try:
        for statement in TAMPERING:
            with pytest.raises(psycopg2.Error, match="permission denied|must be owner"):
                runtime.cursor().execute(statement)
        cursor = runtime.cursor()
        cursor.execute("SELECT count(*) FROM core_auditevent WHERE action = 'test.role'")
        assert cursor.fetchone() == (1,)
    finally:
        runtime.close()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP OWNED BY "{role}"')
            cursor.execute(f'DROP ROLE "{role}"')
    # the tests connect as the table's owner: exactly what production must not do
    assert [w.id for w in check_audit_table_owner(None)] == ["mlopsadmin.W005"]
