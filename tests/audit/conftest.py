"""Fixtures for the audit history tests: a few hand-made events with known content."""

from __future__ import annotations

from typing import Any

import pytest

from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.models import AuditEvent


def record(**kwargs: Any) -> AuditEvent:
    defaults: dict[str, Any] = {
        "actor": "system:test",
        "action": "thing.update",
        "target_kind": "thing",
        "target_id": "1",
    }
    return audit_record(**{**defaults, **kwargs})


@pytest.fixture
def sample_events(db: None) -> list[AuditEvent]:
    """A small varied log: approvals, alias moves, run deletions, checklist ticks (oldest first)."""
    return [
        record(
            actor="member_fraud",
            action="approval.request",
            target_kind="model_version",
            target_id="fraud-detector/7",
            team="fraud",
            after={"state": "pending", "version": "7"},
            reason="Beats champion on val_auc",
        ),
        record(
            actor="lead_fraud",
            action="approval.decide",
            target_kind="model_version",
            target_id="fraud-detector/7",
            team="fraud",
            before={"state": "pending"},
            after={"state": "approved"},
            reason="Evidence reviewed: offline eval report",
        ),
        record(
            actor="lead_fraud",
            action="alias.move",
            target_kind="model",
            target_id="fraud-detector",
            team="fraud",
            before={"alias": "champion", "version": "6"},
            after={"alias": "champion", "version": "7"},
            reason="Promotion after approval",
        ),
        record(
            actor="lead_fraud",
            action="alias.move",
            target_kind="model",
            target_id="fraud-detector",
            team="fraud",
            before={"alias": "challenger", "version": "5"},
            after={"alias": "challenger", "version": "8"},
        ),
        record(
            actor="lead_search",
            action="experiment.rename",
            target_kind="experiment",
            target_id="42",
            team="search",
            before={"name": "/search-team/a"},
            after={"name": "/search-team/b"},
        ),
        record(
            actor="system:cleanup",
            action="run.delete",
            target_kind="run",
            target_id="abc123",
            team="search",
            before={"status": "FINISHED"},
            after={"experiment_id": "42", "lifecycle_stage": "deleted"},
            reason="older than 90 days",
        ),
        record(
            actor="operator",
            action="checklist.tick",
            target_kind="checklist",
            target_id="3",
            after={"item": "backup verified", "done": True},
        ),
        record(
            actor="lead_fraud",
            action="version.rollback",
            target_kind="model_version",
            target_id="fraud-detector/7",
            team="fraud",
            before={"aliases": ["champion"]},
            after={"aliases": []},
            reason="Incident INC-12: fraud spike",
            outcome="partial",
        ),
    ]
