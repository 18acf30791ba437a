from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from mlopsadmin.core.services import api_token_create


class Command(BaseCommand):
    help = "Issue an API token for a user and print it once (only its hash is stored)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']!r}.")
        _, raw = api_token_create(actor="system:issue_token", user=user, name=options["name"])
        self.stdout.write(raw)
