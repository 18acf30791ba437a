"""The commands and API operations an operator scripts, against the session's real MLflow server."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from maintenance.models import CleanupPlan, TaskRun, TaskState
from mlopsadmin.core.models import AuditEvent

DEMO_EXPERIMENT = "/search-team/query-ranking/bert-finetune"


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_model_owner_shows_the_rule_and_sets_explicit_ownership(personas, login) -> None:  # type: ignore[no-untyped-def]
    assert run("model_owner", "search-ranker").strip() == "search-ranker: team search (pattern search-*)"
    assert "team search (explicit)" in run("model_owner", "bert-search-ranking-2026")
    assert "(none) (none)" in run("model_owner", "unowned-model")
    assert "team fraud (explicit)" in run("model_owner", "search-ranker", "--team", "fraud")
    assert AuditEvent.objects.filter(action="ownership.set", target_id="search-ranker").count() == 1
    assert "pattern search-*" in run("model_owner", "search-ranker", "--remove")
    with pytest.raises(CommandError, match="Unknown team 'nope'"):
        run("model_owner", "search-ranker", "--team", "nope")
    admin = login("admin")
    answer = admin.post(
        "/api/v1/ownership", {"model_name": "x-model", "team": "churn"}, content_type="application/json"
    )
    assert answer.status_code == 200 and answer.json() == {"model_name": "x-model", "team": "churn", "rule": "explicit"}
    assert admin.get("/api/v1/ownership", {"model_name": "x-model"}).json()["team"] == "churn"
    lead = login("lead_search")
    refused = lead.post("/api/v1/ownership", {"model_name": "y", "team": "search"}, content_type="application/json")
    assert refused.status_code == 403


@pytest.mark.django_db
def test_maintenance_commands_queue_or_run_here(mlflow, personas) -> None:  # type: ignore[no-untyped-def]
    out = run("reap_stuck_runs", "--wait", "--experiment", DEMO_EXPERIMENT)
    reap = TaskRun.objects.get(kind="reaper")
    assert reap.state == TaskState.SUCCEEDED and reap.parameters["dry_run"] is True
    assert f"Task run #{reap.pk}" in out and "succeeded" in out and reap.counts["stuck"] >= 1
    assert "Queued task run" in run("capacity_check")
    out = run("cleanup_plan", "--scope", "experiment", "--value", DEMO_EXPERIMENT, "--older-than-days", "30", "--wait")
    plan = CleanupPlan.objects.get()
    assert plan.state == "ready" and f"cleanup_execute {plan.pk} --confirm" in out
    assert plan.items.filter(excluded=True, reason__startswith="tagged keep=").exists()
    with pytest.raises(CommandError, match="[Cc]onfirm"):
        run("cleanup_execute", str(plan.pk))
    assert AuditEvent.objects.filter(actor_name="system:cli").exists()


@pytest.mark.django_db
def test_catalog_sync_and_alias_reconcile_commands_and_api(mlflow, personas, login) -> None:  # type: ignore[no-untyped-def]
    from catalog.models import CatalogExperiment

    assert "Catalog sync done" in run("catalog_sync", "--full")
    assert CatalogExperiment.objects.filter(name=DEMO_EXPERIMENT).exists()
    assert "Checked 1 model(s)" in run("alias_reconcile", "--model", "search-ranker")
    operator = login("operator")
    assert operator.post("/api/v1/catalog/sync", {"full": True}, content_type="application/json").status_code == 202
    queued = operator.post("/api/v1/registry/alias-reconcile", {}, content_type="application/json")
    assert queued.status_code == 202
    member = login("member_search")
    assert member.post("/api/v1/catalog/sync", {}, content_type="application/json").status_code == 403
