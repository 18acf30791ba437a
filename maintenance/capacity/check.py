"""The capacity check: size of every experiment's artifact location (local / S3 / unknown) per team and
per store, and of the tracking database; samples stored; thresholds checked (alert when crossed)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.selectors import experiment_teams
from maintenance import storage
from maintenance.capacity import thresholds
from maintenance.models import CapacitySample, TaskKind, TaskRun, TaskState
from maintenance.task_runs import actor_for, task_run_create, task_run_enqueue, task_run_finish, task_run_progress
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.dashboard import badge_changed
from mlopsadmin.core.formatting import capped_lines
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib import tracking_db
from notifications import events as notification_events

ERROR_LINES = 50  # unreadable locations named in the task's errors ("showing N of M" beyond)


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
    store, and of the tracking database; samples stored; thresholds checked.

    Unknown is never 0: a location that could not be read (unknown kind, missing store root, no permission,
    S3 error) makes every sum it belongs to None (its measured part stays in the detail), and the level is
    "unknown" unless the measured part alone crosses a threshold. Soft-deleted experiments (their artifacts
    stay until purged) are measured too: in the store sums and the total, apart in the "deleted" sample, never
    in a team's. Teams by the one attribution rule (catalog.selectors.experiment_teams)."""
    experiments = list(mlf.iter_experiments(include_deleted=True))
    owners = experiment_teams((e.experiment_id, e.name) for e in experiments)
    task_run_progress(run, done=0, total=len(experiments) + 1)
    now = timezone.now()
    samples: list[CapacitySample] = []
    sums: dict[tuple[str, str], _Sum] = {}  # (scope, key) -> sum
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
            team = owners.get(experiment.experiment_id)
            team_key = team.name if team else ""
            if error:
                counts["errors"] += 1
                errors.append(f"{experiment.name}: {error}")
            elif size is None:
                counts["unknown"] += 1
            groups = [("store", location.store), ("total", "all")]
            groups.append(("deleted", "all") if experiment.is_deleted else ("team", team_key))
            for group in groups:
                sums.setdefault(group, _Sum()).add(size, objects, failed=bool(error))
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
                        "lifecycle_stage": experiment.lifecycle_stage,
                        "note": error or location.note,
                    },
                )
            )
            if index % 50 == 0:
                task_run_progress(run, done=index)
    total = sums.get(("total", "all"), _Sum())
    deleted = sums.get(("deleted", "all"), _Sum())
    for (scope, key), acc in sums.items():
        if scope == "total":
            continue
        label = (key or "(no team)") if scope == "team" else "soft-deleted experiments" if scope == "deleted" else key
        samples.append(
            CapacitySample(
                task_run=run,
                measured_at=now,
                scope=scope,
                key=label[:512],
                label=label[:512],
                team=key if scope == "team" else "",
                store=key[:512] if scope == "store" else "",
                size_bytes=acc.size,
                object_count=acc.objects,
                detail=acc.detail(),
            )
        )
    database = tracking_db.database_size(settings.MLFLOW_BACKEND_STORE_URI)
    errors = capped_lines(errors, ERROR_LINES, "unreadable locations")  # every one is in its experiment's sample
    if database.get("error"):
        errors.append(f"database: {database['error']}")
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
    levels = thresholds.levels(total.size, database.get("bytes"), artifact_measured=total.measured)
    samples.append(
        CapacitySample(
            task_run=run,
            measured_at=now,
            scope="total",
            key="all",
            label="all stores",
            size_bytes=total.size,
            detail={
                "database_bytes": database.get("bytes"),
                **levels,
                **total.detail(),
                "deleted_bytes": deleted.size if deleted.experiments else 0,
                "deleted_experiments": deleted.experiments,
            },
        )
    )
    with transaction.atomic():
        CapacitySample.objects.bulk_create(samples, batch_size=1000)
        badge_changed("maintenance")  # the nav badge says whether the latest total warns
        if levels["warning"]:
            _capacity_alert(run, levels, total.size, database.get("bytes"))
        counts.update({"artifact_bytes": total.size, "database_bytes": database.get("bytes")})
        task_run_finish(
            run,
            state=TaskState.SUCCEEDED,
            counts=counts,
            report={
                "level": levels["level"],
                "messages": levels["messages"],
                "database": database,
                "teams": {k or "(no team)": v.size for (scope, k), v in sums.items() if scope == "team"},
                "stores": {k: v.size for (scope, k), v in sums.items() if scope == "store"},
                "deleted_bytes": deleted.size if deleted.experiments else 0,
            },
            errors=errors,
        )


class _Sum:
    """A sum of location sizes that stays honest: `size` is None as soon as one location is unknown or
    failed (the measured part is `measured`)."""

    def __init__(self) -> None:
        self.measured = self.objects_measured = self.experiments = self.unknown = self.failed = 0

    def add(self, size: int | None, objects: int | None, *, failed: bool) -> None:
        self.experiments += 1
        self.measured += size or 0
        self.objects_measured += objects or 0
        self.unknown += int(size is None and not failed)
        self.failed += int(failed)

    @property
    def complete(self) -> bool:
        return not (self.unknown or self.failed)

    @property
    def size(self) -> int | None:
        return self.measured if self.complete else None

    @property
    def objects(self) -> int | None:
        return self.objects_measured if self.complete else None

    def detail(self) -> dict[str, int]:
        return {
            "experiments": self.experiments,
            "unknown_experiments": self.unknown,
            "failed_experiments": self.failed,
            "measured_bytes": self.measured,
        }


def _capacity_alert(
    run: TaskRun, levels: dict[str, Any], artifact_bytes: int | None, database_bytes: int | None
) -> None:
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
    """The level of the last capacity check before `run` that measured one ("ok" when there was none). A
    check whose level is "unknown" (a store could not be read) is skipped: it neither ends a crossing nor
    starts one, so a store that is unreadable now and then does not re-send the same alert."""
    earlier = TaskRun.objects.filter(kind=TaskKind.CAPACITY, state=TaskState.SUCCEEDED, pk__lt=run.pk)
    known = earlier.exclude(report__level="unknown").order_by("-pk").values_list("report", flat=True).first()
    return str((known or {}).get("level", "ok"))
