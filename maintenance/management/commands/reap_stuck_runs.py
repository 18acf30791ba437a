from typing import Any

from maintenance.management.commands._task_command import TaskCommand
from maintenance.models import TaskRun
from maintenance.reaper import reaper_start


class Command(TaskCommand):
    help = (
        "Find runs stuck in RUNNING (no sign of life within the threshold; dry run unless --execute) and end them "
        "as FAILED at their last sign of life."
    )

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument("--execute", action="store_true", help="Really end them (default: dry run).")
        parser.add_argument("--threshold-hours", type=float, default=None)
        parser.add_argument("--experiment", default="", help="One experiment (id or name); default all.")

    def start(self, options: dict[str, Any]) -> TaskRun:
        return reaper_start(
            actor=options["actor"],
            dry_run=not options["execute"],
            threshold_hours=options["threshold_hours"],
            experiment=options["experiment"],
        )
