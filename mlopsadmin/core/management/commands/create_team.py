from typing import Any

from django.core.management.base import CommandError

from mlopsadmin.core.commands import ProjectCommand
from mlopsadmin.core.errors import DomainError
from mlopsadmin.core.services import team_create_or_update


class Command(ProjectCommand):
    help = "Create or update a team with its experiment prefix, e.g. create_team search /search-team."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")
        parser.add_argument("experiment_prefix")
        parser.add_argument("--display-name", default="")
        parser.add_argument("--model-pattern", default="", help="Regex of registered model names it owns.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            team = team_create_or_update(
                actor="system:create_team",
                name=options["name"],
                experiment_prefix=options["experiment_prefix"],
                display_name=options["display_name"],
                model_name_pattern=options["model_pattern"],
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Team {team.name} ({team.experiment_prefix}) saved."))
