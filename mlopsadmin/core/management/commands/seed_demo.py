from typing import Any

from django.core.management.base import BaseCommand

from mlopsadmin.core.demo import demo_summary, seed_demo
from mlopsadmin.lib.mlflow_client import tracking_uri


class Command(BaseCommand):
    help = "Write demo teams, users, experiments, runs and models into the tracking server (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-users", action="store_true", help="Only MLflow data, no teams/users.")

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
        summary = demo_summary()
        self.stdout.write(
            f"Demo logins (password {summary['password']}): "
            + ", ".join(f"{u} ({r})" for u, r in summary["logins"].items())
        )
