"""Reads of the approval workflow: a version's approval state (the interface the promotion gate uses),
request history, the ML lead's inbox and its nav badge. Approval state is local (never read from MLflow)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from mlopsadmin import policy
from mlopsadmin.core.models import Team
from registry_ui.environments.config import approval_key_parts
from registry_ui.models import ApprovalRequest, ApprovalState, ImportedApproval

APPROVAL_TAGS = ("approved_by", "approval_date")  # version tags written only by an approval


@dataclass(frozen=True)
class VersionApproval:
    """Everything the version page and the gate know of one version's approval, read once (two queries,
    whatever the number of requests): `history` every request, newest first (requester and decider
    joined); `imported` the approval imported from the version's MLflow tags, if any."""

    history: list[ApprovalRequest]
    imported: ImportedApproval | None

    @property
    def state(self) -> str | None:
        """As `approval_state`: the newest request that was not withdrawn, else None."""
        latest = next((r.state for r in self.history if r.state != ApprovalState.WITHDRAWN), None)
        return str(latest) if latest is not None else None

    @property
    def approved(self) -> bool:
        """As `version_is_approved`."""
        return self.state == ApprovalState.APPROVED

    @property
    def imported_counts(self) -> ImportedApproval | None:
        """As `imported_approval_counts`: the imported approval unless a request made here supersedes it."""
        return self.imported if self.state is None else None

    @property
    def pending(self) -> ApprovalRequest | None:
        return next((r for r in self.history if r.state == ApprovalState.PENDING), None)


def version_approval(*, model_name: str, version: str) -> VersionApproval:
    """The version's requests and imported approval in two queries (see VersionApproval): callers read it
    once per request and pass it down instead of asking `approval_state` and friends again."""
    return VersionApproval(
        approval_history(model_name=model_name, version=str(version)),
        imported_approval(model_name=model_name, version=str(version)),
    )


def gate_approval(*, model_name: str, version: str) -> VersionApproval:
    """The version's approval as the promotion gate judges it (`state`, `approved`, `imported_counts`), in ONE
    query (issue 20): its requests and its imported approval side by side (UNION ALL). Each request in
    `history` carries its state and order only (no comment, requester or decider: use `version_approval` to
    show them)."""
    from django.db.models import CharField, DateTimeField, IntegerField, Value

    version = str(version)
    requests = ApprovalRequest.objects.filter(model_name=model_name, version=version).values_list(
        "id", "state", "created_at", Value("", output_field=CharField()), Value("", output_field=CharField())
    )
    imported = ImportedApproval.objects.filter(model_name=model_name, version=version).values_list(
        Value(None, output_field=IntegerField()),
        Value(None, output_field=CharField()),
        Value(None, output_field=DateTimeField()),
        "approved_by",
        "approval_date",
    )
    rows = list(requests.order_by().union(imported.order_by(), all=True))
    history = [
        ApprovalRequest(id=pk, model_name=model_name, version=version, state=state, created_at=created)
        for pk, state, created, _, _ in rows
        if pk is not None
    ]
    history.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    found = next((row for row in rows if row[0] is None), None)
    outside = (
        ImportedApproval(model_name=model_name, version=version, approved_by=found[3], approval_date=found[4])
        if found is not None
        else None
    )
    return VersionApproval(history, outside)


def approval_state(*, model_name: str, version: str) -> str | None:
    """State of the newest request for this version that was not withdrawn, or None when there is none.

    'approved' means the version is approved and nothing newer (a pending re-review or a rejection)
    supersedes that decision."""
    latest = (
        ApprovalRequest.objects.filter(model_name=model_name, version=str(version))
        .exclude(state=ApprovalState.WITHDRAWN)
        .order_by("-created_at", "-id")
        .values_list("state", flat=True)
        .first()
    )
    return str(latest) if latest is not None else None


def version_is_approved(*, model_name: str, version: str) -> bool:
    """True when the latest decided request for the version is 'approved' and not superseded."""
    return approval_state(model_name=model_name, version=str(version)) == ApprovalState.APPROVED


def imported_approval(*, model_name: str, version: str) -> ImportedApproval | None:
    """The approval found in the version's MLflow tags (approved outside mlopsadmin), if imported."""
    return ImportedApproval.objects.filter(model_name=model_name, version=str(version)).first()


def imported_approval_counts(*, model_name: str, version: str) -> ImportedApproval | None:
    """The imported approval when it stands: mlopsadmin has no request for the version other than
    withdrawn ones (a decision or a pending re-review made here supersedes the imported one)."""
    if approval_state(model_name=model_name, version=str(version)) is not None:
        return None
    return imported_approval(model_name=model_name, version=version)


def approval_latest(*, model_name: str, version: str) -> ApprovalRequest | None:
    return (
        ApprovalRequest.objects.filter(model_name=model_name, version=str(version))
        .select_related("requester", "decided_by")
        .order_by("-created_at", "-id")
        .first()
    )


def approval_history(*, model_name: str, version: str) -> list[ApprovalRequest]:
    return list(
        ApprovalRequest.objects.filter(model_name=model_name, version=str(version))
        .select_related("requester", "decided_by")
        .order_by("-created_at", "-id")
    )


def approval_pending_for_version(*, model_name: str, version: str) -> ApprovalRequest | None:
    return ApprovalRequest.objects.filter(
        model_name=model_name, version=str(version), state=ApprovalState.PENDING
    ).first()


def approval_get(*, request_id: int) -> ApprovalRequest | None:
    return ApprovalRequest.objects.select_related("requester", "decided_by").filter(pk=request_id).first()


def approvals_list(
    *, state: str | None = None, model_name: str | None = None, limit: int = 500
) -> list[ApprovalRequest]:
    qs = ApprovalRequest.objects.select_related("requester", "decided_by")
    if state:
        qs = qs.filter(state=state)
    if model_name:
        qs = qs.filter(model_name=model_name)
    return list(qs.order_by("-created_at", "-id")[:limit])


def _lead_scope(user: Any) -> Q | None:
    """Requests a user may decide: all for admins, their led teams for ML leads, else none."""
    if policy.is_admin(user):
        return Q()
    led = policy.led_team_ids(user)
    # The led teams' names as a subquery of the caller's query, not a query of their own (issue 20: the nav
    # badge counts this on every page).
    return Q(team__in=Team.objects.filter(pk__in=led).values("name")) if led else None


def inbox_for(user: Any) -> list[ApprovalRequest]:
    """Pending requests the user may decide, oldest first (admins see every team's)."""
    scope = _lead_scope(user)
    if scope is None:
        return []
    return list(
        ApprovalRequest.objects.filter(scope, state=ApprovalState.PENDING)
        .select_related("requester")
        .order_by("created_at", "id")
    )


def _waiting_for(user: Any) -> QuerySet[ApprovalRequest] | None:
    """Pending requests this user may decide now: their led teams' (every team's for an admin), minus
    their own requests (four-eyes: a requester never decides their own). None for auditors and everyone
    who decides nothing. The badge and the home page's "waiting for your decision" both count this."""
    scope = _lead_scope(user)
    if scope is None or policy.is_auditor(user):
        return None
    return ApprovalRequest.objects.filter(scope, state=ApprovalState.PENDING).exclude(requester_id=user.pk)


def waiting_for_decision(user: Any, *, limit: int | None = None) -> list[ApprovalRequest]:
    """The requests `inbox_count` counts, oldest first (at most `limit`)."""
    waiting = _waiting_for(user)
    if waiting is None:
        return []
    ordered = waiting.select_related("requester").order_by("created_at", "id")
    return list(ordered[:limit] if limit is not None else ordered)


def inbox_count(user: Any) -> int:
    """The nav badge: how many pending requests this user may decide now (see `_waiting_for`)."""
    waiting = _waiting_for(user)
    return 0 if waiting is None else waiting.count()


def pending_requests_by(user: Any, *, limit: int | None = None) -> tuple[list[ApprovalRequest], int]:
    """The user's own pending requests, newest first (at most `limit`), and how many there are."""
    mine = ApprovalRequest.objects.filter(requester_id=user.pk, state=ApprovalState.PENDING)
    ordered = mine.order_by("-created_at", "-id")
    return list(ordered[:limit] if limit is not None else ordered), mine.count()


def pending_counts_by_model() -> dict[str, int]:
    rows = ApprovalRequest.objects.filter(state=ApprovalState.PENDING).values("model_name").annotate(n=Count("id"))
    return {row["model_name"]: row["n"] for row in rows}


def pending_total() -> int:
    return ApprovalRequest.objects.filter(state=ApprovalState.PENDING).count()


def approval_page(req: ApprovalRequest) -> str:
    """The page of a request (a path): its version's page; the inbox for an environment approval (its
    model name is the key '<env>:<model there>', no page of its own; the version is in the source)."""
    if approval_key_parts(req.model_name) is not None:
        return reverse("registry:inbox")
    return reverse("registry:version", args=[req.model_name, req.version])


def approval_subject_model(req: ApprovalRequest) -> str:
    """The registered model a request is about: the model in the target environment for an environment
    approval ('prod:prod.ranker' → 'prod.ranker'), else its own model name. Its watchers are told."""
    return req.model_name.partition(":")[2] if approval_key_parts(req.model_name) is not None else req.model_name
