"""Case 8 of issue 16: the required version metadata defaults are the operations guide's keys
(training_data, training_commit, validation_ndcg, approved_by, approval_date), so a registry that follows
the guide is not flagged (real MLflow server, through the API)."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry_ui.selectors import required_metadata_keys

pytestmark = pytest.mark.django_db

GUIDE = Path(__file__).resolve().parents[3] / "shared" / "seed" / "mlflow-operations-guide.txt"
GUIDE_TAGS = {
    "training_data": "s3://data/query-logs/2026-q1/",
    "training_commit": "a1b2c3d4e5f6",
    "validation_ndcg": "0.847",
    "approved_by": "jane.doe",
    "approval_date": "2026-03-05",
}


def test_default_required_keys_are_the_guides(mlflow) -> None:
    assert required_metadata_keys() == list(GUIDE_TAGS)
    if GUIDE.exists():  # the guide's own calls, as written there
        text = GUIDE.read_text()
        assert all(f'"{key}", "{value}"' in text for key, value in GUIDE_TAGS.items())


def test_a_guide_following_version_is_complete(make_model, api) -> None:
    made = make_model([{"val_ndcg_at_10": 0.85}], tags=GUIDE_TAGS)
    versions = api("lead_search").get(f"/api/v1/registry/models/{made.name}/versions").json()
    assert versions[0]["missing_metadata"] == []
