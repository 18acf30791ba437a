"""GET /metrics scraped like Prometheus does: access by token or network only, and every listed metric
present with values that move when something happens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-test-token-0123456789"


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(values: dict, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in values.items() if n == name and set(labels.items()) <= set(ls))


@pytest.fixture
def scraper(settings, db):  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    return Client()


def test_metrics_need_the_token_or_an_allowed_network(scraper, settings) -> None:  # type: ignore[no-untyped-def]
    assert scraper.get("/metrics").status_code == 403
    assert scraper.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert scraper.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    settings.METRICS_TOKEN = ""
    assert scraper.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert scraper.get("/metrics").status_code == 200  # the test client calls from 127.0.0.1


def test_metrics_move_when_things_happen(scraper, mlflow, personas, login) -> None:  # type: ignore[no-untyped-def]
    from maintenance.models import CapacitySample, TaskKind, TaskRun, TaskState
    from mlopsadmin.audit.services import audit_record
    from mlopsadmin.lib import mlflow_client as mlf
    from registry_ui.models import ApprovalRequest
    from registry_ui.promotion.models import AliasEvent

    before = scrape(scraper)
    assert value(before, "mlopsadmin_audit_chain_ok") == 1

    login("operator").get("/maintenance/")
    mlf.get_experiment_by_name("/search-team/query-ranking/bert-finetune")
    with pytest.raises(mlf.MlflowNotFound):
        mlf.get_registered_model("no-such-model-for-metrics")
    now = timezone.now()
    queued = TaskRun.objects.create(kind=TaskKind.REAPER, started_by="t", created_at=now - timedelta(seconds=90))
    TaskRun.objects.create(
        kind=TaskKind.REAPER,
        started_by="t",
        state=TaskState.SUCCEEDED,
        created_at=now - timedelta(seconds=30),
        started_at=now - timedelta(seconds=18),
        finished_at=now,
        counts={"stuck": 3, "reaped": 2, "failed": 1},
    )
    total = TaskRun.objects.create(kind=TaskKind.CAPACITY, started_by="t", state=TaskState.SUCCEEDED)
    CapacitySample.objects.create(task_run=total, scope="total", key="total", size_bytes=5000)
    CapacitySample.objects.create(
        task_run=total, scope="team", key="search", label="search", team="search", size_bytes=1234
    )
    ApprovalRequest.objects.create(
        model_name="search-ranker", version="1", team="search", requester=personas["member_search"]
    )
    AliasEvent.objects.create(
        model_name="search-ranker",
        alias="champion",
        to_version="2",
        action="external",
        actor_name="x",
        source="external",
    )
    audit_record(actor="tester", action="test.metrics", target_kind="config", target_id="x")

    after = scrape(scraper)
    req = "mlopsadmin_http_request_duration_seconds_count"
    assert (
        value(after, req, view="maintenance:index", method="GET")
        == value(before, req, view="maintenance:index", method="GET") + 1
    )
    calls = "mlopsadmin_mlflow_call_duration_seconds_count"
    assert value(after, calls, operation="get_experiment_by_name") > value(
        before, calls, operation="get_experiment_by_name"
    )
    errors = "mlopsadmin_mlflow_call_errors_total"
    assert value(after, errors, error="MlflowNotFound") == value(before, errors, error="MlflowNotFound") + 1
    assert (
        value(after, "mlopsadmin_task_runs_total", kind="reaper", state="succeeded")
        == value(before, "mlopsadmin_task_runs_total", kind="reaper", state="succeeded") + 1
    )
    assert value(after, "mlopsadmin_task_queue_wait_seconds", kind="reaper", stat="last") == pytest.approx(12, abs=0.5)
    assert value(after, "mlopsadmin_task_queued_oldest_seconds") >= 89
    assert value(after, "mlopsadmin_stuck_runs", outcome="stuck") == 3
    assert value(after, "mlopsadmin_capacity_bytes", scope="team", team="search") == 1234
    assert (
        value(after, "mlopsadmin_pending_approvals", team="search")
        == value(before, "mlopsadmin_pending_approvals", team="search") + 1
    )
    assert (
        value(after, "mlopsadmin_alias_changes_total", source="external")
        == value(before, "mlopsadmin_alias_changes_total", source="external") + 1
    )
    assert value(after, "mlopsadmin_audit_events_total") > value(before, "mlopsadmin_audit_events_total")
    queued.delete()


@pytest.mark.django_db
def test_catalog_compliance_and_audit_chain_status(scraper) -> None:  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    from catalog.models import CatalogExperiment
    from mlopsadmin.audit.services import audit_record
    from mlopsadmin.core.models import AuditEvent
    from monitoring.collectors import AUDIT_CHAIN_CACHE_KEY

    CatalogExperiment.objects.create(experiment_id="9001", name="/search-team/a/b", team_key="search")
    CatalogExperiment.objects.create(experiment_id="9002", name="flat", team_key="search", name_compliant=False)
    audit_record(actor="tester", action="test.metrics", target_kind="config", target_id="x")
    cache.delete(AUDIT_CHAIN_CACHE_KEY)
    values = scrape(scraper)
    assert value(values, "mlopsadmin_catalog_experiments", team="search", compliant="true") == 1
    assert value(values, "mlopsadmin_catalog_experiments", team="search", compliant="false") == 1
    assert value(values, "mlopsadmin_audit_chain_ok") == 1
    # A forged row (inserted past the model's guard, with a hash that links to nothing) breaks the chain;
    # the next verification (the cached result expired) reports it.
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                actor_name="intruder",
                action="x",
                target_kind="x",
                target_id="x",
                prev_hash="0" * 64,
                event_hash="f" * 64,
            )
        ]
    )
    cache.delete(AUDIT_CHAIN_CACHE_KEY)
    assert value(scrape(scraper), "mlopsadmin_audit_chain_ok") == 0
    cache.delete(AUDIT_CHAIN_CACHE_KEY)
