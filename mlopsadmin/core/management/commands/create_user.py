import os
from typing import Any

from django.core.management.base import CommandError

from mlopsadmin import policy
from mlopsadmin.core.commands import ProjectCommand
from mlopsadmin.core.errors import DomainError
from mlopsadmin.core.services import user_create_or_update


class Command(ProjectCommand):
    help = (
        "Create or update a user with roles and teams. The password comes from --password or the "
        "MLOPSADMIN_PASSWORD environment variable."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", default=None)
        parser.add_argument("--role", action="append", default=None, choices=policy.ALL_ROLES)
        parser.add_argument("--team", action="append", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = user_create_or_update(
                actor="system:create_user",
                username=options["username"],
                email=options["email"],
                password=options["password"] or os.environ.get("MLOPSADMIN_PASSWORD"),
                roles=options["role"],
                teams=options["team"],
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"User {user.username} saved."))
