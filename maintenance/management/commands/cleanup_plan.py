from typing import Any

from maintenance.cleanup.plan import CLEANUP_STATUSES, SCOPES, cleanup_plan_create
from maintenance.management.commands._task_command import TaskCommand
from maintenance.models import CleanupPlan, TaskRun


class Command(TaskCommand):
    help = "Plan a cleanup (a dry run listing candidates and kept runs); execute it with cleanup_execute."

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument("--scope", choices=SCOPES, default="all")
        parser.add_argument("--value", default="", help="The team key or experiment (id or name) of the scope.")
        parser.add_argument("--older-than-days", type=int, default=None, help="Default: [cleanup] older_than_days.")
        parser.add_argument("--status", action="append", choices=CLEANUP_STATUSES, help="Repeat; default: [cleanup].")

    def start(self, options: dict[str, Any]) -> TaskRun:
        plan = cleanup_plan_create(
            actor=options["actor"],
            scope=options["scope"],
            scope_value=options["value"],
            older_than_days=options["older_than_days"],
            statuses=options["status"],
        )
        self.stdout.write(f"Cleanup plan #{plan.pk}.")
        self.plan_id = plan.pk
        assert plan.plan_task is not None  # cleanup_plan_create always queues the planning task
        return plan.plan_task

    def handle(self, *args: Any, **options: Any) -> None:
        super().handle(*args, **options)
        if options["wait"]:
            plan = CleanupPlan.objects.get(pk=self.plan_id)
            self.stdout.write(
                f"Plan #{plan.pk}: {plan.candidate_count} candidates, {plan.excluded_count} kept, "
                f"~{plan.estimated_bytes} bytes. Execute: manage.py cleanup_execute {plan.pk} --confirm"
            )
