"""manage.py import_approvals [--model NAME]: import the approvals recorded in MLflow version tags
(`approved_by` / `approval_date`, approved outside mlopsadmin). Run once at install; the hourly schedule
keeps it current."""

from typing import Any

from mlopsadmin.core.commands import ProjectCommand
from registry_ui.approvals.imports import approvals_import


class Command(ProjectCommand):
    help = "Import approvals recorded in MLflow version tags as 'approved outside mlopsadmin' (audited)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--model", default=None, help="one registered model (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        report = approvals_import(model_name=options["model"])
        self.stdout.write(
            f"{report.versions_read} versions read; {len(report.imported)} approvals imported, "
            f"{len(report.updated)} updated, {len(report.removed)} removed (tags taken off in MLflow)."
        )
