from typing import Any

from maintenance.capacity.check import capacity_check_start
from maintenance.management.commands._task_command import TaskCommand
from maintenance.models import TaskRun


class Command(TaskCommand):
    help = "Measure artifact stores, teams and the tracking database (capacity samples, thresholds)."

    def start(self, options: dict[str, Any]) -> TaskRun:
        return capacity_check_start(actor=options["actor"])
