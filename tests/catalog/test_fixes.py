"""Rename and bulk tag: refused for outsiders (nothing changes), audited for the team's ML lead; stale input."""

from __future__ import annotations

import pytest

from catalog.models import CatalogExperiment
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from tests.catalog.conftest import make_experiment

pytestmark = pytest.mark.django_db


def test_rename_refused_for_outsider(login, bad_experiment) -> None:  # type: ignore[no-untyped-def]
    experiment_id, name, _ = bad_experiment
    client = login("outsider")
    response = client.post(
        f"/catalog/experiments/{experiment_id}/rename", {"new_name": "/search-team/fix/renamed", "expected_name": name}
    )
    assert response.status_code == 403
    assert "ML lead" in response.content.decode()
    assert mlf.get_experiment(experiment_id).name == name
    assert not AuditEvent.objects.filter(action="experiment.rename", target_id=experiment_id).exists()


def test_rename_by_lead_is_audited_and_warns(login, bad_experiment, unique: str) -> None:  # type: ignore[no-untyped-def]
    experiment_id, name, _ = bad_experiment
    row = CatalogExperiment.objects.get(experiment_id=experiment_id)
    assert row.suggested_name == f"/search-team/fix-{unique}/general"
    client = login("lead_search")
    response = client.post(
        f"/catalog/experiments/{experiment_id}/rename",
        {"new_name": row.suggested_name, "expected_name": name, "reason": "convention"},
        follow=True,
    )
    assert response.status_code == 200
    assert "will create a NEW experiment" in response.content.decode()
    assert mlf.get_experiment(experiment_id).name == row.suggested_name
    row.refresh_from_db()
    assert row.name == row.suggested_name or row.name_compliant
    event = AuditEvent.objects.get(action="experiment.rename", target_id=experiment_id)
    assert event.actor_name == "lead_search" and event.team == "search"
    assert event.before == {"name": name} and event.after == {"name": row.name}


def test_rename_other_team_lead_refused(login, bad_experiment) -> None:  # type: ignore[no-untyped-def]
    experiment_id, name, _ = bad_experiment
    response = login("lead_fraud").post(
        f"/catalog/experiments/{experiment_id}/rename", {"new_name": "/search-team/x/y", "expected_name": name}
    )
    assert response.status_code == 403
    assert mlf.get_experiment(experiment_id).name == name


def test_rename_stale_inputs_change_nothing(login, bad_experiment, unique: str) -> None:  # type: ignore[no-untyped-def]
    experiment_id, name, _ = bad_experiment
    client = login("lead_search")
    taken = "/search-team/query-ranking/bert-finetune"
    response = client.post(f"/catalog/experiments/{experiment_id}/rename", {"new_name": taken})
    assert response.status_code == 409 and "already taken" in response.content.decode()
    response = client.post(
        f"/catalog/experiments/{experiment_id}/rename",
        {"new_name": "/search-team/x/y", "expected_name": "something-else"},
    )
    assert response.status_code == 409
    response = client.post(f"/catalog/experiments/{experiment_id}/rename", {"new_name": "Not Compliant"})
    assert response.status_code == 422 and "Flat name" in response.content.decode()
    assert mlf.get_experiment(experiment_id).name == name
    mlf.delete_experiment(experiment_id)
    response = client.post(
        f"/catalog/experiments/{experiment_id}/rename", {"new_name": f"/search-team/gone-{unique}/x"}
    )
    assert response.status_code == 409 and "deleted" in response.content.decode()
    assert not AuditEvent.objects.filter(action="experiment.rename", target_id=experiment_id).exists()


def test_bulk_tag_refused_for_outsider(login, bad_experiment) -> None:  # type: ignore[no-untyped-def]
    experiment_id, _, run_ids = bad_experiment
    response = login("outsider").post(
        f"/catalog/experiments/{experiment_id}/tag-runs", {"run_ids": run_ids[:2], "key": "owner", "value": "someone"}
    )
    assert response.status_code == 403
    assert "owner" not in mlf.get_run(run_ids[0]).tags
    assert not AuditEvent.objects.filter(action="experiment.tag_runs").filter(target_id=experiment_id).exists()


def test_bulk_tag_by_lead_is_audited_and_updates_counts(login, bad_experiment) -> None:  # type: ignore[no-untyped-def]
    experiment_id, _, run_ids = bad_experiment
    row = CatalogExperiment.objects.get(experiment_id=experiment_id)
    assert row.missing_tag_counts["purpose"] == 2
    response = login("lead_search").post(
        f"/catalog/experiments/{experiment_id}/tag-runs",
        {"run_ids": run_ids[:2], "key": "purpose", "value": "tuning"},
        follow=True,
    )
    assert response.status_code == 200 and "Tagged 2 run(s)" in response.content.decode()
    assert mlf.get_run(run_ids[0]).tags["purpose"] == "tuning"
    row.refresh_from_db()
    assert row.missing_tag_counts["purpose"] == 0
    event = AuditEvent.objects.get(action="experiment.tag_runs", target_id=experiment_id)
    assert event.outcome == "ok" and sorted(event.after["run_ids"]) == sorted(run_ids[:2])


def test_bulk_tag_with_foreign_run_changes_nothing(login, bad_experiment, unique: str) -> None:  # type: ignore[no-untyped-def]
    experiment_id, _, run_ids = bad_experiment
    _, other_runs = make_experiment(f"/search-team/other-{unique}/x", [{}])
    response = login("lead_search").post(
        f"/catalog/experiments/{experiment_id}/tag-runs",
        {"run_ids": [run_ids[0], other_runs[0]], "key": "purpose", "value": "x"},
    )
    assert response.status_code == 409
    assert "purpose" not in mlf.get_run(run_ids[0]).tags
    response = login("lead_search").post(
        f"/catalog/experiments/{experiment_id}/tag-runs", {"run_ids": ["0" * 32], "key": "purpose", "value": "x"}
    )
    assert response.status_code == 404


def test_create_from_builder_is_audited(login, synced, unique: str) -> None:  # type: ignore[no-untyped-def]
    response = login("member_search").post(
        "/catalog/builder/", {"team": "search", "project": f"p-{unique}", "experiment_type": "baseline"}
    )
    assert response.status_code == 302
    name = f"/search-team/p-{unique}/baseline"
    assert mlf.get_experiment_by_name(name) is not None
    assert AuditEvent.objects.filter(action="experiment.create", after={"name": name}).exists()
    refused = login("member_fraud").post(
        "/catalog/builder/", {"team": "search", "project": f"q-{unique}", "experiment_type": "baseline"}
    )
    assert refused.status_code == 403
    assert mlf.get_experiment_by_name(f"/search-team/q-{unique}/baseline") is None
