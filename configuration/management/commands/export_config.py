"""manage.py export_config FILE: write the live configuration as TOML ('-' for standard output)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from configuration.services import config_export
from mlopsadmin.core.commands import ProjectCommand


class Command(ProjectCommand):
    requires_system_checks: list[str] = []  # scripted many times in a row: `manage.py check` runs them
    help = "Write the live configuration (teams, people, naming, gates, cleanup, schedules…) to a TOML file."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="Path to write, or '-' for standard output.")

    def handle(self, *args: Any, **options: Any) -> None:
        text = config_export()
        if options["file"] == "-":
            self.stdout.write(text, ending="")
            return
        try:
            Path(options["file"]).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {options['file']}: {exc.strerror or exc}") from None
        self.stdout.write(f"Wrote {options['file']}.")
