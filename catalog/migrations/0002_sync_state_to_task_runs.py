"""One job-progress model: the catalog sync runs as a maintenance TaskRun (kind catalog_sync). The single
CatalogSyncState row becomes the TaskRun history the next sync reads: its last success (the start of the
next incremental window) and its last full scan (when the next full rescan is due)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import migrations

ACTOR = "system:migration"


def forwards(apps: Any, schema_editor: Any) -> None:
    CatalogSyncState = apps.get_model("catalog", "CatalogSyncState")
    TaskRun = apps.get_model("maintenance", "TaskRun")
    state = CatalogSyncState.objects.filter(pk=1).first()
    if state is None or state.last_success_at is None:
        return
    if state.last_full_scan_at and state.last_full_scan_at != state.started_at:
        TaskRun.objects.create(  # the last full scan, when the last successful sync was incremental
            kind="catalog_sync",
            state="succeeded",
            started_by=ACTOR,
            parameters={"full": True},
            report={"mode": "full", "message": "full scan (recorded before catalog syncs were task runs)"},
            created_at=state.last_full_scan_at,
            started_at=state.last_full_scan_at,
            finished_at=state.last_full_scan_at,
        )
    if state.state == "idle" and state.started_at:  # the last attempt was the success
        started = state.started_at
    else:  # a later attempt failed or is running: the success started about its duration before it ended
        started = state.last_success_at - timedelta(seconds=state.duration_seconds or 0)
    TaskRun.objects.create(
        kind="catalog_sync",
        state="succeeded",
        started_by=ACTOR,
        parameters={"full": state.mode == "full"},
        counts={"runs": state.runs_seen},
        progress_done=state.done,
        progress_total=state.total,
        report={"mode": state.mode, "message": state.message, "seconds": state.duration_seconds},
        created_at=started,
        started_at=started,
        finished_at=state.last_success_at,
    )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial"), ("maintenance", "0002_catalog_sync_kind")]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.DeleteModel(name="CatalogSyncState"),
    ]
