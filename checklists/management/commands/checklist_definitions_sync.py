"""`manage.py checklist_definitions_sync`: load the code's checklist definition files now (new file versions
become new definition versions, audited). The daily beat task and "Create this period's checklists" do the
same; pages never write."""

from __future__ import annotations

from typing import Any

from checklists.services import definitions_sync
from mlopsadmin.core.commands import ProjectCommand


class Command(ProjectCommand):
    help = "Load the checklist definition files (initial, weekly, monthly) into the database."

    def handle(self, *args: Any, **options: Any) -> None:
        created = definitions_sync(actor="system:checklist_definitions_sync")
        self.stdout.write(f"{len(created)} new definition version(s): {', '.join(str(d) for d in created) or 'none'}")
