"""Indexes for the audit history pages (PostgreSQL only; SQLite keeps the btree indexes of 0001).

- action prefix filters ("approval.") use LIKE 'x%': a varchar_pattern_ops index serves them whatever
  the database collation.
- free text in reasons uses UPPER(reason) LIKE UPPER('%x%') (Django's icontains): a pg_trgm GIN index
  serves it when the pg_trgm extension is available (created if the role may; skipped otherwise).
- experiment histories find run events by after/before ->> 'experiment_id' (the convention for run
  events): two small partial expression indexes.
"""

from django.db import migrations

INDEXES = [
    "CREATE INDEX IF NOT EXISTS audit_action_prefix_idx ON core_auditevent (action varchar_pattern_ops, id)",
    "CREATE INDEX IF NOT EXISTS audit_after_experiment_idx ON core_auditevent ((after ->> 'experiment_id'), id) "
    "WHERE (after ->> 'experiment_id') IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS audit_before_experiment_idx ON core_auditevent ((before ->> 'experiment_id'), id) "
    "WHERE (before ->> 'experiment_id') IS NOT NULL",
]
TRGM_INDEX = ("CREATE INDEX IF NOT EXISTS audit_reason_trgm_idx ON core_auditevent "
              "USING gin (UPPER(reason) gin_trgm_ops)")
DROP = ["audit_action_prefix_idx", "audit_after_experiment_idx", "audit_before_experiment_idx",
        "audit_reason_trgm_idx"]


def _trgm_available(cursor) -> bool:
    cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
    if cursor.fetchone():
        return True
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    if not cursor.fetchone():
        return False
    cursor.execute("SAVEPOINT audit_trgm")
    try:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception:  # no privilege: reason search works, just without an index
        cursor.execute("ROLLBACK TO SAVEPOINT audit_trgm")
        return False
    cursor.execute("RELEASE SAVEPOINT audit_trgm")
    return True


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for statement in INDEXES:
            cursor.execute(statement)
        if _trgm_available(cursor):
            cursor.execute(TRGM_INDEX)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in DROP:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("core", "0002_audit_append_only_trigger")]
    operations = [migrations.RunPython(forwards, backwards)]
