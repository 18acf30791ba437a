"""manage.py oidc_discover ISSUER: print the OIDC_OP_* environment lines from the provider's discovery document."""

from __future__ import annotations

import shlex
from typing import Any

from django.core.management.base import CommandError

from mlopsadmin.accounts.discovery import discover
from mlopsadmin.core.commands import ProjectCommand
from mlopsadmin.core.errors import DomainError


class Command(ProjectCommand):
    help = "Print the OIDC_OP_* environment variables for an OpenID provider (from its discovery document)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("issuer", help="The provider's issuer URL, e.g. https://login.example.com/realms/main")

    def handle(self, *args: Any, issuer: str, **options: Any) -> None:
        try:
            found = discover(issuer)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        for name, value in found.items():
            self.stdout.write(f"export {name}={shlex.quote(value)}")
