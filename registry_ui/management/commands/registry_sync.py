"""manage.py registry_sync [--full] [--wait]: bring the registry index (models, versions, source runs) in step
with MLflow. Without --wait the sync is queued for a worker."""

from typing import Any

from maintenance.management.commands._task_command import TaskCommand
from maintenance.models import TaskRun


class Command(TaskCommand):
    help = "Sync the registry index from MLflow (incremental; --full re-reads every version and source run)."

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument("--full", action="store_true", help="Re-read every version and source run.")

    def start(self, options: dict[str, Any]) -> TaskRun:
        from registry_ui.index_sync import registry_sync_start

        return registry_sync_start(actor=options["actor"], full=options["full"] or None)
