"""Maintenance and checklist settings: cleanup, the stuck-run reaper, task heartbeats, capacity thresholds.

Imported by settings.py, which stays the one settings module: every value comes from the environment.
"""

from __future__ import annotations

import os

from mlopsadmin.settings_helpers import env_bool, env_float, env_int

# --- Maintenance (cleanup, reaper, capacity) --------------------------------------------------
MAINTENANCE_CLEANUP_DEFAULT_DAYS = env_int("MAINTENANCE_CLEANUP_DEFAULT_DAYS", 90)
# A reviewed plan older than this must be re-planned before it can be executed.
MAINTENANCE_PLAN_MAX_AGE_HOURS = env_float("MAINTENANCE_PLAN_MAX_AGE_HOURS", 24.0)
# Page size for streaming runs out of MLflow (tests use a small one to prove there is no cap).
MAINTENANCE_RUNS_PAGE_SIZE = env_int("MAINTENANCE_RUNS_PAGE_SIZE", 1000)
# Parallel page streams while planning (experiments are split into this many groups).
MAINTENANCE_PLAN_PARALLELISM = env_int("MAINTENANCE_PLAN_PARALLELISM", 4)
# Plan from MLflow's backend store (read-only, only when MLFLOW_BACKEND_STORE_URI is set, reachable and on
# the installed MLflow's schema revision); false: always list runs through the tracking API.
MAINTENANCE_PLAN_READ_STORE = env_bool("MAINTENANCE_PLAN_READ_STORE", True)
# Cleanup execute and the reaper work in chunks of this many runs: one re-check read, one claim update and
# one transaction of outcomes + audit events per chunk.
MAINTENANCE_BULK_CHUNK = env_int("MAINTENANCE_BULK_CHUNK", 200)
# Concurrent REST writes (delete, terminate) of a chunk; size it to the tracking server's workers (2x them).
MAINTENANCE_WRITE_WORKERS = env_int("MAINTENANCE_WRITE_WORKERS", 4)
# With MLFLOW_BACKEND_STORE_URI usable (as for planning): re-checks read the store and the deletes/terminates
# go through MLflow's own store layer in-process (as `mlflow gc`); false: always through the tracking API.
MAINTENANCE_WRITE_STORE = env_bool("MAINTENANCE_WRITE_STORE", True)
# Stuck-run reaper: RUNNING, started and silent for longer than this.
MAINTENANCE_REAPER_THRESHOLD_HOURS = env_float("MAINTENANCE_REAPER_THRESHOLD_HOURS", 24.0)
# A running task whose heartbeat is older than this was lost with its worker: marked "interrupted".
MAINTENANCE_HEARTBEAT_STALE_SECONDS = env_int("MAINTENANCE_HEARTBEAT_STALE_SECONDS", 300)
# How often a running task's heartbeat is written (a thread of the task, so one long MLflow call or purge is
# not taken for a lost worker). Must stay well under the staleness above (check mlopsadmin.E011).
MAINTENANCE_HEARTBEAT_SECONDS = env_float("MAINTENANCE_HEARTBEAT_SECONDS", 30.0)
# A queued task never picked up within this long (lost message) is marked "interrupted" too.
MAINTENANCE_QUEUED_STALE_SECONDS = env_int("MAINTENANCE_QUEUED_STALE_SECONDS", 2 * 3600)
# A capacity measurement older than this is out of date (the daily check failed or stopped): shown as unknown,
# never as the current state (tile, page banner, checklist probe).
MAINTENANCE_CAPACITY_STALE_HOURS = env_float("MAINTENANCE_CAPACITY_STALE_HOURS", 48.0)
# Capacity thresholds (bytes; 0 disables): artifact store total and tracking database size.
# (CHECKLIST_ARTIFACT_BYTES_MAX / CHECKLIST_DB_BYTES_MAX: deprecated names of the two warning thresholds; the
# weekly checklist judges capacity against the warning thresholds.)
MAINTENANCE_ARTIFACT_WARNING_BYTES = env_int(
    "MAINTENANCE_ARTIFACT_WARNING_BYTES", env_int("CHECKLIST_ARTIFACT_BYTES_MAX", 500 * 1024**3)
)
MAINTENANCE_ARTIFACT_CRITICAL_BYTES = env_int("MAINTENANCE_ARTIFACT_CRITICAL_BYTES", 1024**4)
MAINTENANCE_DATABASE_WARNING_BYTES = env_int(
    "MAINTENANCE_DATABASE_WARNING_BYTES", env_int("CHECKLIST_DB_BYTES_MAX", 20 * 1024**3)
)
MAINTENANCE_DATABASE_CRITICAL_BYTES = env_int("MAINTENANCE_DATABASE_CRITICAL_BYTES", 50 * 1024**3)
# Where a server started with `--artifacts-destination` stores `mlflow-artifacts:` URIs (a local path
# or s3://bucket/prefix); empty: those artifact locations are reported as "unknown".
# (CHECKLIST_ARTIFACTS_DESTINATION: deprecated name of the same setting.)
MLFLOW_ARTIFACTS_DESTINATION = os.environ.get("MLFLOW_ARTIFACTS_DESTINATION") or os.environ.get(
    "CHECKLIST_ARTIFACTS_DESTINATION", ""
)


# --- Checklists -------------------------------------------------------------------------------
CHECKLIST_LATENCY_P95_MS = env_float("CHECKLIST_LATENCY_P95_MS", 500.0)
# Latency samples older than this window do not count towards the P95.
CHECKLIST_LATENCY_WINDOW_HOURS = env_int("CHECKLIST_LATENCY_WINDOW_HOURS", 24)
CHECKLIST_LATENCY_MIN_SAMPLES = env_int("CHECKLIST_LATENCY_MIN_SAMPLES", 3)
# A registered model with no alias and no new version for this many days is listed for review.
CHECKLIST_UNUSED_MODEL_DAYS = env_int("CHECKLIST_UNUSED_MODEL_DAYS", 90)
# The last successful cleanup must be younger than this.
CHECKLIST_CLEANUP_MAX_AGE_DAYS = env_int("CHECKLIST_CLEANUP_MAX_AGE_DAYS", 7)
# Stuck runs, capacity thresholds and the artifacts destination are the maintenance settings above
# (MAINTENANCE_REAPER_THRESHOLD_HOURS, MAINTENANCE_*_WARNING_BYTES, MLFLOW_ARTIFACTS_DESTINATION).
