"""The ops guide's cleanup script ("Artifact Cleanup Automation", `cleanup_old_runs`), as bench/maintenance_bench.py
measures it against mlopsadmin's cleanup plan."""

from __future__ import annotations

import time

DAY_MS = 86_400_000
CLEANUP_DAYS = 90


def guide_cleanup(*, complete: bool) -> dict[str, object]:
    """`cleanup_old_runs(name, days_old=90, dry_run=True)` for every experiment, through the gateway's
    single-page call (the guide: max_results=500, no page token). complete=True follows page tokens."""
    from mlopsadmin.lib import mlflow_client as mlf

    started = time.perf_counter()
    cutoff = int(time.time() * 1000) - CLEANUP_DAYS * DAY_MS
    would_delete: list[str] = []
    found = 0
    for experiment in mlf.iter_experiments():
        token = None
        while True:
            runs, token = mlf.search_runs_page(
                [experiment.experiment_id],
                filter_string=f"attributes.end_time < {cutoff} AND attributes.status != 'RUNNING'",
                order_by=["attributes.end_time ASC"],
                max_results=500,
                page_token=token,
            )
            found += len(runs)
            for run in runs:
                if run.tags.get("keep", "false").lower() == "true":
                    continue
                if run.tags.get("mlflow.registeredModelName"):
                    continue
                would_delete.append(run.run_id)  # the guide prints "[DRY RUN] Would delete run ..."
            if not complete or not token:
                break
    return {"seconds": time.perf_counter() - started, "would_delete": would_delete, "runs_listed": found}
