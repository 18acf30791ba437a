from typing import Any

from django.core.management.base import CommandError

from catalog.sync import catalog_sync
from mlopsadmin.core.commands import ProjectCommand
from mlopsadmin.core.errors import DomainError


class Command(ProjectCommand):
    help = "Sync the experiment catalog from MLflow now (incremental; --full rescans every experiment's runs)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--full", action="store_true")
        parser.add_argument("--actor", default="system:cli", help="Name recorded in the audit log.")

    def handle(self, *args: Any, **options: Any) -> None:
        from mlopsadmin.lib.mlflow_client import MlflowError

        try:
            result = catalog_sync(actor=options["actor"], full=options["full"] or None)
        except (DomainError, MlflowError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Catalog sync done: {result.summary()}")
