from typing import Any

from django.core.management.base import CommandError

from mlopsadmin.core.commands import ProjectCommand


class Command(ProjectCommand):
    help = "Record alias changes made directly in MLflow (all models, or --model NAME) in the alias history."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--model", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        from mlopsadmin.lib.mlflow_client import MlflowError
        from registry_ui.promotion.services import alias_reconcile
        from registry_ui.selectors import existing_model_name

        model = options["model"]
        try:
            report = alias_reconcile(model_name=existing_model_name(model) if model is not None else None)
        except MlflowError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Checked {report.models_checked} model(s): {report.changes} external change(s) recorded, "
            f"skipped: {', '.join(report.skipped) or 'none'}."
        )
