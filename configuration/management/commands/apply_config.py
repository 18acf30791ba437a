"""manage.py apply_config FILE [--dry-run]: show the diff against the live configuration, then apply it
in one transaction (one audit event per change). An invalid file is refused with its lines and reasons."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from configuration.files import ConfigInvalid
from configuration.services import config_apply
from mlopsadmin.core.commands import ProjectCommand


class Command(ProjectCommand):
    requires_system_checks: list[str] = []  # scripted many times in a row: `manage.py check` runs them
    help = "Apply a configuration file (see docs/configuration.md); --dry-run only shows the changes."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="TOML file, or '-' for standard input.")
        parser.add_argument("--dry-run", action="store_true", help="Show the changes, change nothing.")
        parser.add_argument("--actor", default="system:apply_config", help="Name recorded in the audit log.")

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["file"]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {source}: {exc}") from None
        try:
            result = config_apply(actor=options["actor"], text=text, source=source, dry_run=options["dry_run"])
        except ConfigInvalid as exc:
            raise CommandError(str(exc)) from None
        for change in result.changes:
            self.stdout.write(change.describe())
        if not result.changes:
            self.stdout.write("No changes: the live configuration already matches.")
        elif result.applied:
            self.stdout.write(self.style.SUCCESS(f"Applied {len(result.changes)} change(s)."))
        else:
            self.stdout.write(f"Dry run: {len(result.changes)} change(s) would be applied.")
