"""Shared by the maintenance commands: queue a TaskRun for the workers, or (--wait) run it in this
process and report its outcome; the exit status is 1 when the run failed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from maintenance.models import TaskRun, TaskState
from mlopsadmin.core.commands import ProjectCommand
from mlopsadmin.core.errors import DomainError


class TaskCommand(ProjectCommand):
    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--wait", action="store_true", help="Run it here and now instead of queueing it.")
        parser.add_argument("--actor", default="system:cli", help="Name recorded in the audit log.")

    def start(self, options: dict[str, Any]) -> TaskRun:
        raise NotImplementedError

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run = self.start(options)
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        if not options["wait"]:
            self.stdout.write(f"Queued task run #{run.pk} ({run.get_kind_display()}).")
            return
        from maintenance.tasks import task_run_execute

        task_run_execute(task_run_id=run.pk)  # claims it first: the queued message then finds nothing to do
        run.refresh_from_db()
        self.stdout.write(f"Task run #{run.pk} ({run.get_kind_display()}): {run.state}; counts {run.counts}")
        for error in run.errors or []:
            self.stderr.write(f"  {error}")
        if run.state != TaskState.SUCCEEDED:
            raise CommandError(f"Task run #{run.pk} ended {run.state}.")
