"""Approvals recorded outside mlopsadmin: versions whose MLflow tags already carry `approved_by` /
`approval_date` (the operations guide tells people to write them by hand). They are imported as
"approved outside mlopsadmin" — who and when as the tags say (keys in any spelling, see approval_tags) —,
each import one audit event `approval.import` (old values kept in `before` when the tags changed since the
last import; tags taken off in MLflow end the imported approval, audited the same way). A decision
made in mlopsadmin supersedes an imported one; the gate policy says whether imported approvals count
(`GatePolicy.count_imported_approvals`, default PROMOTION_GATE_COUNT_IMPORTED_APPROVALS = true)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.selectors import team_for_model
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib.mlflow_bounded import Deadline
from registry_ui.approvals.unconfirmed import approvals_unconfirmed_resolve
from registry_ui.models import ApprovalRequest, ApprovalState, ImportedApproval
from registry_ui.selectors import existing_model_name
from registry_ui.tag_watch import tag_writes_resolve
from registry_ui.tag_writes import version_tags_write

logger = logging.getLogger(__name__)

SYSTEM_IMPORTER = "system:approval-import"
APPROVED_BY, APPROVAL_DATE = "approved_by", "approval_date"
# What people write in approved_by while nobody has approved yet: not an approval.
PLACEHOLDER_APPROVERS = frozenset(
    {"", "-", "--", "—", "?", "none", "null", "nil", "n/a", "na", "tbd", "todo", "pending", "no", "false", "unknown"}
)


@dataclass
class ImportReport:
    versions_read: int = 0
    imported: list[str] = field(default_factory=list)  # "<model>/<version>"
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # the tags were taken off in MLflow


def _tag_key(key: str) -> str:
    """'Approved By', 'approved-by', 'approvedBy', 'APPROVED_BY' → 'approved_by'."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key.strip())
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def approval_tags(tags: Mapping[str, str]) -> tuple[str, str]:
    """(approved_by, approval_date) as a version's MLflow tags record them, ('', '') when they record no
    approval. Keys written by hand in another spelling count ('Approved By', 'approved-by', 'approvedBy');
    the guide's exact key wins when both exist. A placeholder approver ('pending', 'TBD', 'n/a', …) is no
    approval. Values are trimmed and cut to the stored lengths (150 and 32 characters)."""
    found: dict[str, str] = {}
    for key, value in tags.items():
        wanted = _tag_key(key)
        if wanted in (APPROVED_BY, APPROVAL_DATE) and (wanted not in found or key == wanted):
            found[wanted] = str(value or "")
    approved_by = found.get(APPROVED_BY, "").strip()[:150]
    if approved_by.lower() in PLACEHOLDER_APPROVERS:
        return "", ""
    return approved_by, found.get(APPROVAL_DATE, "").strip()[:32]


def _written_by_mlopsadmin(name: str, version: str, approved_by: str) -> bool:
    """The tags come from an approval decided here (same approver), or from one whose outcome is still
    unknown (approvals/unconfirmed.py resolves it): nothing to import."""
    mine = ApprovalRequest.objects.filter(model_name=name, version=version, decided_by__username=approved_by)
    unconfirmed = ApprovalRequest.objects.filter(
        model_name=name, version=version, state=ApprovalState.PENDING, unconfirmed__isnull=False
    )
    return mine.filter(state=ApprovalState.APPROVED).exists() or unconfirmed.exists()


def _import_one(version: mlf.ModelVersion, report: ImportReport) -> None:
    approved_by, approval_date = approval_tags(version.tags)
    if approved_by and _written_by_mlopsadmin(version.name, version.version, approved_by):
        return
    target = f"{version.name}/{version.version}"
    with transaction.atomic():
        row = (
            ImportedApproval.objects.select_for_update()
            .filter(model_name=version.name, version=version.version)
            .first()
        )
        if row is None and not approved_by:
            return
        if row is not None and (row.approved_by, row.approval_date) == (approved_by, approval_date):
            return
        before = {"approved_by": row.approved_by, "approval_date": row.approval_date} if row else None
        reason = "Approved outside mlopsadmin (approved_by/approval_date tags found in MLflow); imported."
        if row is None:
            ImportedApproval.objects.create(
                model_name=version.name, version=version.version, approved_by=approved_by, approval_date=approval_date
            )
            report.imported.append(target)
        elif not approved_by:  # the tags were taken off in MLflow: the imported approval stops counting
            row.delete()
            report.removed.append(target)
            reason = "The approval tags were removed in MLflow; the imported approval no longer counts."
        else:
            row.approved_by, row.approval_date, row.imported_at = approved_by, approval_date, timezone.now()
            row.save(update_fields=["approved_by", "approval_date", "imported_at"])
            report.updated.append(target)
        team = team_for_model(version.name)
        audit_record(
            actor=SYSTEM_IMPORTER,
            action="approval.import",
            target_kind="model_version",
            target_id=target,
            team=team.name if team else "",
            before=before,
            after={"approved_by": approved_by, "approval_date": approval_date, "source": "MLflow version tags"},
            reason=reason,
        )


def approval_tags_take_off(
    model_name: str, version: str, tags: Mapping[str, str], deadline: Deadline, *, end_import: bool = True
) -> tuple[dict[str, str], str]:
    """A rejection decided here: the approval tags among the version's MLflow `tags` (keys in any spelling,
    see approval_tags; written by hand, or an imported approval) leave it, so MLflow no longer says
    "approved" for a rejected version, and its imported approval ends. Returns (the tags taken off with their
    old values, a note naming what MLflow still shows when a delete failed: the rejection stands, it is
    mlopsadmin's decision). Within `deadline`. An approval decided here uses it with `end_import` False for
    the keys in other spellings ('Approved By'), so MLflow shows one approver."""
    found = {k: v for k, v in tags.items() if _tag_key(k) in (APPROVED_BY, APPROVAL_DATE)}
    if not found:
        return {}, ""
    result = version_tags_write(model_name, version, dict.fromkeys(found), deadline)
    left = [] if result.error is None else [k for k in found if result.observed is None or k in result.observed]
    removed = {k: v for k, v in found.items() if k not in left}
    if removed and end_import:
        ImportedApproval.objects.filter(model_name=model_name, version=version).delete()
    if not left:
        return removed, ""
    shown = "may still show" if result.observed is None else "still shows"
    return removed, f"MLflow {shown} the approval tags {', '.join(left)} ({str(result.error)[:200]}): remove them."


def approvals_import(*, model_name: str | None = None) -> ImportReport:
    """Import the approvals found in MLflow version tags, of one model or of every model (all pages).
    Raises InvalidInput for a name MLflow refuses and NotFound for a model MLflow does not have (never an
    empty "0 versions read" for a mistyped name)."""
    report = ImportReport()
    if model_name is not None:
        model_name = existing_model_name(model_name)
    approvals_unconfirmed_resolve(model_name=model_name)  # our own unknown outcomes first: never "outside"
    tag_writes_resolve(model_name=model_name)  # and the metadata tag writes MLflow has not settled
    versions = mlf.iter_model_versions(name=model_name) if model_name else mlf.iter_model_versions()
    for version in versions:
        report.versions_read += 1
        _import_one(version, report)
    logger.info(
        "approval import: %d versions read, %d imported, %d updated, %d removed",
        report.versions_read,
        len(report.imported),
        len(report.updated),
        len(report.removed),
    )
    return report
