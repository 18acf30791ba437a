"""manage.py alias_baseline: record every registered model's current aliases as the alias-history
baseline (run once at install, after migrate; the reconcile schedule does it for models seen later).
Models that already have a baseline are compared instead (external changes are recorded as such)."""

from typing import Any

from mlopsadmin.core.commands import ProjectCommand
from registry_ui.promotion.services import alias_reconcile


class Command(ProjectCommand):
    help = "Take the alias-history baseline of every registered model now (install / first sync)."

    def handle(self, *args: Any, **options: Any) -> None:
        report = alias_reconcile()
        self.stdout.write(
            f"{report.models_checked} models read; {report.baselines} baselines recorded, "
            f"{report.changes} external changes, {len(report.skipped)} skipped."
        )
