from typing import Any

from maintenance.cleanup.execute import cleanup_plan_execute
from maintenance.management.commands._task_command import TaskCommand
from maintenance.models import TaskRun


class Command(TaskCommand):
    help = "Execute a reviewed cleanup plan (every run is re-checked before it is deleted)."

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument("plan_id", type=int)
        parser.add_argument("--confirm", action="store_true", help="Required: you reviewed the plan.")
        parser.add_argument("--purge", action="store_true", help="Also purge (hard-delete) exactly the deleted runs.")

    def start(self, options: dict[str, Any]) -> TaskRun:
        return cleanup_plan_execute(
            actor=options["actor"], plan_id=options["plan_id"], confirm=options["confirm"], purge=options["purge"]
        )
