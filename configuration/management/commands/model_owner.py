"""manage.py model_owner NAME [--team KEY | --remove]: show who owns a model and by which rule, or
assign it explicitly (audited)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from configuration.ownership import model_owner_explain, model_owner_set
from mlopsadmin.core.commands import ProjectCommand
from mlopsadmin.core.errors import DomainError


class Command(ProjectCommand):
    requires_system_checks: list[str] = []  # scripted many times in a row: `manage.py check` runs them
    help = "Show or set the owning team of a registered model (explicit ownership wins over patterns)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("model_name")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--team", help="Assign the model explicitly to this team.")
        group.add_argument("--remove", action="store_true", help="Remove the explicit assignment.")
        parser.add_argument("--actor", default="system:cli", help="Name recorded in the audit log.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["team"] or options["remove"]:
                result = model_owner_set(
                    actor=options["actor"], model_name=options["model_name"], team_name=options["team"]
                )
            else:
                result = model_owner_explain(options["model_name"])
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{result['model_name']}: team {result['team'] or '(none)'} ({result['rule']})")
