from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import CommandError

from mlopsadmin.core.commands import ProjectCommand
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.core.services import api_token_create


class Command(ProjectCommand):
    help = "Issue an API token for a user and print it once (only its hash is stored)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")
        parser.add_argument("--read-only", action="store_true", help="The token may only read (GET).")
        parser.add_argument("--expires-days", type=int, default=None, help="Days until it expires (default never).")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']!r}.")
        try:
            _, raw = api_token_create(
                actor="system:issue_token",
                user=user,
                name=options["name"],
                expires_in_days=options["expires_days"],
                read_only=options["read_only"],
            )
        except InvalidInput as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(raw)
