from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from mlopsadmin.audit.checkpoint import CheckpointError, read_checkpoint
from mlopsadmin.audit.export_verify import ExportFormatError, read_export, verify_rows
from mlopsadmin.core.commands import ProjectCommand


class Command(ProjectCommand):
    help = (
        "Verify an audit export file (CSV or JSON Lines) without the database, with AUDIT_HMAC_KEY from the "
        "environment; exit 1 and name the first bad event if any."
    )
    requires_system_checks: list[str] = []  # offline: no database, no other service

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path, help="The export (.csv or .jsonl).")
        parser.add_argument("--checkpoint", default="", help="A checkpoint file path or s3://bucket/key to compare.")
        parser.add_argument(
            "--partial", action="store_true", help="A filtered export: check each hash, not the links between rows."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            checkpoint = read_checkpoint(options["checkpoint"]) if options["checkpoint"] else None
            if options["checkpoint"] and checkpoint is None:
                raise CommandError(f"No checkpoint at {options['checkpoint']}.", returncode=2)
            rows = read_export(options["file"])
        except (CheckpointError, ExportFormatError) as exc:
            raise CommandError(str(exc), returncode=2) from exc
        report = verify_rows(rows, partial=options["partial"], checkpoint=checkpoint)
        if not report.ok:
            raise CommandError(
                f"Audit export BROKEN at event {report.first_break_id}: {report.problem} "
                f"({report.checked} events before it verified).",
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS(f"Audit export intact: {report.checked} events verified."))
