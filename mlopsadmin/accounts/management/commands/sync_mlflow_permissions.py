"""manage.py sync_mlflow_permissions [--dry-run] [--create-users]: MLflow permissions in step with mlopsadmin."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from mlopsadmin.accounts.mlflow_permissions import apply_plan, build_plan
from mlopsadmin.core.commands import ProjectCommand
from mlopsadmin.lib.mlflow_client import MlflowError


class Command(ProjectCommand):
    help = (
        "Show (--dry-run) or apply the difference between the MLflow permissions mlopsadmin's teams and roles "
        "intend and those the basic-auth tracking server holds. Exit 1 when something could not be applied."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Only print the drift; change nothing.")
        parser.add_argument("--create-users", action="store_true", help="Create missing MLflow users.")

    def handle(self, *args: Any, dry_run: bool, create_users: bool, **options: Any) -> None:
        try:
            plan = build_plan()
            if not plan.auth_enabled:
                self.stdout.write("The tracking server does not run --app-name basic-auth: nothing to keep in step.")
                return
            for exposure in plan.exposures:
                self.stdout.write(
                    f"can change {exposure.model} outside mlopsadmin: {exposure.username} "
                    f"({exposure.permission}, {exposure.source})"
                )
            for username in plan.missing_users:
                self.stdout.write(f"missing MLflow user: {username}")
            for change in plan.changes:
                self.stdout.write(
                    f"{change.kind}: {change.username} on {change.resource_type} {change.resource_label}: "
                    f"{change.current or '-'} -> {change.intended or '-'}"
                )
            if dry_run:
                self.stdout.write(f"dry run: {len(plan.changes)} change(s), nothing applied.")
                return
            result = apply_plan(actor="system:command.sync_mlflow_permissions", create_users=create_users)
        except MlflowError as exc:
            raise CommandError(str(exc), returncode=1) from exc
        self.stdout.write(
            f"applied {len(result.applied)}, failed {len(result.failed)}, created users {len(result.created_users)}, "
            f"remaining {len(result.remaining.changes)} change(s) and {len(result.remaining.exposures)} exposure(s)."
        )
        if result.failed or result.remaining.changes:
            raise CommandError("Some permissions are still not in step (see above).", returncode=1)
