"""The capacity check: size of every experiment's artifact location (local / S3 / unknown) per team and
per store, and of the tracking database; samples stored; thresholds checked (alert when crossed)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from maintenance import storage
from maintenance.capacity import thresholds
from maintenance.models import CapacitySample, TaskKind, TaskRun, TaskState
from maintenance.task_runs import actor_for, task_run_create, task_run_enqueue, task_run_finish, task_run_progress
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.selectors import all_teams, team_for_experiment_name
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib import tracking_db
from notifications import events as notification_events


def capacity_check_start(*, actor: Any) -> TaskRun:
    """Queue a capacity check (one audit event). Raises Conflict when one is already queued or running."""
    with transaction.atomic():
        run = task_run_create(kind=TaskKind.CAPACITY, parameters={}, actor=actor)
        audit_record(
            actor=actor,
            action="capacity.check",
            target_kind="task",
            target_id=run.pk,
            reason="measure artifact store and database size",
        )
        task_run_enqueue(run)
    return run


def capacity_run(run: TaskRun) -> None:
    """Handler: size of every experiment's artifact location (local / S3 / unknown), per team and per
    store, and of the tracking database; samples stored; thresholds checked."""
    experiments = list(mlf.iter_experiments())
    teams = all_teams()
    task_run_progress(run, done=0, total=len(experiments) + 1)
    now = timezone.now()
    samples: list[CapacitySample] = []
    per_team: dict[str, list[int]] = {}
    per_store: dict[str, list[int]] = {}
    counts: dict[str, Any] = {"experiments": len(experiments), "unknown": 0, "errors": 0}
    errors: list[str] = []

    def measure(experiment: mlf.Experiment) -> tuple[mlf.Experiment, storage.Location, Any, Any, str]:
        location = storage.resolve(experiment.artifact_location)
        try:
            size, objects = storage.location_size(location)
            return experiment, location, size, objects, ""
        except Exception as exc:  # one unreadable location must not hide the others
            return experiment, location, None, None, str(exc)[:300]

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="capacity") as pool:
        for index, (experiment, location, size, objects, error) in enumerate(pool.map(measure, experiments), 1):
            team = team_for_experiment_name(experiment.name, teams)
            team_key = team.name if team else ""
            if error:
                counts["errors"] += 1
                errors.append(f"{experiment.name}: {error}")
            elif size is None:
                counts["unknown"] += 1
            for bucket, key in ((per_team, team_key), (per_store, location.store)):
                acc = bucket.setdefault(key, [0, 0, 0, 0])  # bytes, objects, unknown, failed
                acc[0] += size or 0
                acc[1] += objects or 0
                acc[2] += 1 if size is None else 0
                acc[3] += 1 if error else 0
            samples.append(
                CapacitySample(
                    task_run=run,
                    measured_at=now,
                    scope="experiment",
                    key=experiment.experiment_id,
                    label=experiment.name[:512],
                    team=team_key,
                    store=location.store[:512],
                    size_bytes=size,
                    object_count=objects,
                    detail={
                        "location": experiment.artifact_location,
                        "kind": location.kind,
                        "note": error or location.note,
                    },
                )
            )
            if index % 50 == 0:
                task_run_progress(run, done=index)
    # A group with a location that failed this time (S3 down) has no size: its growth chart skips the point
    # instead of dropping towards 0. What was measured stays in the detail. Locations of a kind that is never
    # measurable (unknown) only leave the sum incomplete, as the page says.
    for key, (size, objects, unknown, failed) in per_team.items():
        samples.append(
            CapacitySample(
                task_run=run,
                measured_at=now,
                scope="team",
                key=key or "(no team)",
                label=key or "(no team)",
                team=key,
                size_bytes=None if failed else size,
                object_count=None if failed else objects,
                detail={"unknown_experiments": unknown, "failed_experiments": failed, "measured_bytes": size},
            )
        )
    for key, (size, objects, unknown, failed) in per_store.items():
        samples.append(
            CapacitySample(
                task_run=run,
                measured_at=now,
                scope="store",
                key=key[:512],
                label=key[:512],
                store=key[:512],
                size_bytes=None if failed else size,
                object_count=None if failed else objects,
                detail={"unknown_experiments": unknown, "failed_experiments": failed, "measured_bytes": size},
            )
        )
    database = tracking_db.database_size(settings.MLFLOW_BACKEND_STORE_URI)
    if database.get("error"):
        errors.append(f"database: {database['error']}")
    artifact_total = sum(v[0] for v in per_store.values())
    samples.append(
        CapacitySample(
            task_run=run,
            measured_at=now,
            scope="database",
            key="tracking-db",
            label=database.get("label", ""),
            size_bytes=database.get("bytes"),
            detail=database,
        )
    )
    levels = thresholds.levels(artifact_total, database.get("bytes"))
    samples.append(
        CapacitySample(
            task_run=run,
            measured_at=now,
            scope="total",
            key="all",
            label="all stores",
            size_bytes=artifact_total,
            detail={"database_bytes": database.get("bytes"), **levels, "unknown_experiments": counts["unknown"]},
        )
    )
    with transaction.atomic():
        CapacitySample.objects.bulk_create(samples, batch_size=1000)
        if levels["level"] != "ok":
            _capacity_alert(run, levels, artifact_total, database.get("bytes"))
        counts.update({"artifact_bytes": artifact_total, "database_bytes": database.get("bytes")})
        task_run_finish(
            run,
            state=TaskState.SUCCEEDED,
            counts=counts,
            report={
                "level": levels["level"],
                "messages": levels["messages"],
                "database": database,
                "teams": {k or "(no team)": v[0] for k, v in per_team.items()},
                "stores": {k: v[0] for k, v in per_store.items()},
            },
            errors=errors[:50],
        )


def _capacity_alert(run: TaskRun, levels: dict[str, Any], artifact_bytes: int, database_bytes: int | None) -> None:
    text = "; ".join(levels["messages"])
    audit_record(
        actor=actor_for(run),
        action="capacity.alert",
        target_kind="task",
        target_id=run.pk,
        after={"level": levels["level"], "artifact_bytes": artifact_bytes, "database_bytes": database_bytes},
        reason=text,
        outcome="ok",
    )
    notification_events.capacity_alert(run, level=levels["level"], text=text, previous_level=_previous_level(run))


def _previous_level(run: TaskRun) -> str:
    """The level of the capacity check before `run` ("ok" when there was none)."""
    previous = (
        TaskRun.objects.filter(kind=TaskKind.CAPACITY, state=TaskState.SUCCEEDED, pk__lt=run.pk).order_by("-pk").first()
    )
    return str((previous.report or {}).get("level", "ok")) if previous else "ok"
