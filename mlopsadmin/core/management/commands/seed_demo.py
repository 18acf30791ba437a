from typing import Any

from mlopsadmin.core.commands import ProjectCommand
from mlopsadmin.core.demo import seed_capacity_history, seed_demo
from mlopsadmin.lib.mlflow_client import tracking_uri


class Command(ProjectCommand):
    help = "Write demo teams, users, experiments, runs and models into the tracking server (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-users", action="store_true", help="Only MLflow data, no teams/users.")
        parser.add_argument(
            "--capacity", action="store_true", help="Also measure capacity now and add a few days of history."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Seeding demo data into {tracking_uri()} …")
        report = seed_demo(with_users=not options["no_users"])
        self.stdout.write(
            self.style.SUCCESS(
                f"teams {report.teams}, users {report.users}, experiments created {report.experiments_created}, "
                f"runs {report.runs_created}, models {report.models_created}, versions {report.versions_created}; "
                f"already present: {len(report.skipped)}"
            )
        )
        if options["capacity"]:
            run_id = seed_capacity_history()
            self.stdout.write(f"Capacity measured (task run #{run_id}), with {4} days of history for the charts.")
