"""manage.py purge_deleted_experiment <id> --actor <admin> --reason "...": permanently delete one
soft-deleted experiment (frees its name; audited as the admin). See catalog.services.deleted_experiment_purge."""

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError

from catalog.deleted_names import deleted_experiment_purge
from mlopsadmin.core.commands import ProjectCommand
from mlopsadmin.core.errors import DomainError
from mlopsadmin.lib.mlflow_client import MlflowError


class Command(ProjectCommand):
    help = "Permanently delete a soft-deleted experiment and its runs (admins only, audited), freeing its name."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("experiment_id")
        parser.add_argument("--actor", required=True, help="user name of the admin doing it (audited)")
        parser.add_argument("--reason", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        actor = User.objects.filter(username=options["actor"]).first()
        if actor is None:
            raise CommandError(f"No user {options['actor']!r}.")
        try:
            purged = deleted_experiment_purge(
                actor=actor, experiment_id=options["experiment_id"], reason=options["reason"]
            )
        except (PermissionDenied, DomainError, MlflowError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Experiment {options['experiment_id']} purged ({len(purged)} runs); its name is free.")
