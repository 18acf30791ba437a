from typing import Any

from django.core.management.base import CommandError

from mlopsadmin.audit.services import audit_checkpoint_new, audit_verify_chain
from mlopsadmin.core.commands import ProjectCommand


class Command(ProjectCommand):
    help = "Walk the audit hash chain oldest first; exit 1 and name the first broken event if any."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=5000, help="Rows fetched per round trip.")
        parser.add_argument(
            "--new-checkpoint",
            action="store_true",
            help="The checkpoint at AUDIT_CHECKPOINT_PATH is missing on purpose (moved, new location, after an "
            "investigation): start a new one at the verified head (audited as audit.checkpoint_new).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["new_checkpoint"]:
            audit_checkpoint_new(actor="system:verify_audit")
        report = audit_verify_chain(batch_size=max(100, options["batch_size"]))
        if not report.ok:
            raise CommandError(
                f"Audit chain BROKEN at event {report.first_break_id or '-'}: {report.problem} "
                f"({report.checked} events before it verified).",
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.checked} events verified."))
