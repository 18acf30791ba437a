"""Probes against the real MLflow test server (SQLite locally, PostgreSQL in CI)."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from checklists import probes, sources
from checklists.models import LatencySample
from mlopsadmin.lib import mlflow_client as mlf

pytestmark = pytest.mark.django_db


def _backend() -> str:
    from django.conf import settings

    return settings.MLFLOW_BACKEND_STORE_URI


def test_backend_probe_judges_the_test_server(probed_server: str) -> None:
    result = probes.run_probe("backend_store")
    if _backend().startswith("sqlite"):
        assert result.status == "fail"
        assert "SQLite" in result.evidence and "not PostgreSQL/MySQL" in result.evidence
    else:
        assert result.status == "pass", result.evidence


@pytest.mark.postgres
def test_backend_probe_passes_on_postgresql_backed_server(probed_server: str) -> None:
    backend = os.environ.get("MLOPSADMIN_TEST_MLFLOW_BACKEND", "")
    if not backend.startswith("postgresql"):
        pytest.skip("the test MLflow server is not PostgreSQL-backed (set MLOPSADMIN_TEST_MLFLOW_BACKEND)")
    assert mlf.server_health()
    result = probes.run_probe("backend_store")
    assert result.status == "pass"
    assert "postgresql" in result.evidence
    assert result.measured_at is not None


def test_backend_probe_without_setting_is_unknown_and_hides_passwords(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MLFLOW_BACKEND_STORE_URI = ""
    assert probes.run_probe("backend_store").status == "unknown"
    settings.MLFLOW_BACKEND_STORE_URI = "mysql+pymysql://mlflow:s3cret@db.internal:3306/mlflow"
    result = probes.run_probe("backend_store")
    assert result.status == "pass"
    assert "s3cret" not in result.evidence and "db.internal:3306" in result.evidence
    settings.MLFLOW_BACKEND_STORE_URI = "./mlruns"
    assert probes.run_probe("backend_store").status == "fail"


def test_auth_probe_fails_against_unauthenticated_server(mlflow: str) -> None:
    result = probes.run_probe("authentication")
    assert result.status == "fail"
    assert "answered 200" in result.evidence


def test_auth_probe_is_unknown_when_server_is_down(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MLFLOW_TRACKING_URI = "http://127.0.0.1:9"
    result = probes.run_probe("authentication")
    assert result.status == "unknown"
    assert "MLflow did not answer" in result.evidence


def test_tls_probe(mlflow: str, settings) -> None:  # type: ignore[no-untyped-def]
    result = probes.run_probe("tls")
    assert result.status == "fail" and mlflow in result.evidence
    settings.MLFLOW_TRACKING_URI = "https://mlflow.example.com"
    assert probes.run_probe("tls").status == "pass"


def test_artifact_store_probe_on_proxied_local_artifacts(mlflow: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MLFLOW_ARTIFACTS_DESTINATION = ""
    result = probes.run_probe("artifact_store")
    assert result.status == "warn"
    assert "mlflow-artifacts:" in result.evidence
    settings.MLFLOW_ARTIFACTS_DESTINATION = "/var/lib/mlflow/artifacts"
    assert probes.run_probe("artifact_store").status == "fail"
    settings.MLFLOW_ARTIFACTS_DESTINATION = "s3://team-bucket/mlflow"
    assert probes.run_probe("artifact_store").status == "pass"


def test_artifact_store_probe_fails_on_a_file_location(mlflow: str, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.MLFLOW_ARTIFACTS_DESTINATION = "s3://team-bucket/mlflow"
    mlf.create_experiment(
        f"/checklists-test/file-artifacts-{uuid.uuid4().hex[:8]}", artifact_location=(tmp_path / "art").as_uri()
    )
    result = probes.run_probe("artifact_store")
    assert result.status == "fail"
    assert "file://" in result.evidence


def test_stuck_runs_probe_counts_old_running_runs(mlflow: str, settings) -> None:  # type: ignore[no-untyped-def]
    experiment_id = mlf.create_experiment(f"/checklists-test/stuck-{uuid.uuid4().hex[:8]}")
    three_days_ago = int((time.time() - 3 * 86400) * 1000)
    mlf.create_run(experiment_id, run_name="stuck-for-days", start_time=three_days_ago)
    settings.MAINTENANCE_REAPER_THRESHOLD_HOURS = 24
    result = probes.run_probe("stuck_runs")
    assert result.status == "fail"
    assert "RUNNING for more than 24 h" in result.evidence
    settings.MAINTENANCE_REAPER_THRESHOLD_HOURS = 24 * 365 * 20
    assert probes.run_probe("stuck_runs").status == "pass"


def test_stuck_runs_probe_uses_the_reapers_rule(mlflow: str, settings) -> None:  # type: ignore[no-untyped-def]
    """A long RUNNING run that logged a metric within the threshold is alive for the reaper: not stuck."""
    experiment_id = mlf.create_experiment(f"/checklists-test/alive-{uuid.uuid4().hex[:8]}")
    three_days_ago = int((time.time() - 3 * 86400) * 1000)
    run_id = mlf.create_run(experiment_id, run_name="long-but-alive", start_time=three_days_ago)
    settings.MAINTENANCE_REAPER_THRESHOLD_HOURS = 24

    def stuck_count() -> int:
        result = probes.run_probe("stuck_runs")
        return 0 if result.status == "pass" else int(result.evidence.split(" run(s)", 1)[0])

    before = stuck_count()
    assert before >= 1
    mlf.log_batch(run_id, metrics=[("loss", 0.5, int(time.time() * 1000), 1)])
    assert stuck_count() == before - 1


def test_unused_models_are_listed_for_review(mlflow: str, settings) -> None:  # type: ignore[no-untyped-def]
    name = f"00-checklists-unused-{uuid.uuid4().hex[:8]}"
    mlf.create_registered_model(name)
    settings.CHECKLIST_UNUSED_MODEL_DAYS = 0
    result = probes.run_probe("unused_models")
    assert result.status == "warn"
    assert name in result.evidence
    assert "search-ranker\n" not in result.evidence + "\n"  # has aliases: never listed
    settings.CHECKLIST_UNUSED_MODEL_DAYS = 90
    assert name not in probes.run_probe("unused_models").evidence


def test_version_probe_compares_server_and_client(mlflow: str) -> None:
    result = probes.run_probe("mlflow_version")
    assert result.status == "pass"
    assert mlf.client_version() in result.evidence


def test_latency_probe_records_samples_and_judges_p95(mlflow: str, settings) -> None:  # type: ignore[no-untyped-def]
    before = LatencySample.objects.count()
    samples = probes.take_latency_samples(rounds=2)
    assert len(samples) == 6
    assert LatencySample.objects.count() == before + 6
    assert all(s.ok and s.milliseconds > 0 for s in LatencySample.objects.all())
    settings.CHECKLIST_LATENCY_P95_MS = 600_000
    result = probes.run_probe("latency_p95")
    assert result.status == "pass" and "P95" in result.evidence and "6 samples" in result.evidence
    settings.CHECKLIST_LATENCY_P95_MS = 0.0001
    assert probes.run_probe("latency_p95").status == "fail"


def test_latency_probe_samples_when_there_are_none(mlflow: str) -> None:
    assert LatencySample.objects.count() == 0
    probes.run_probe("latency_p95")
    assert LatencySample.objects.count() >= 3


def test_p95() -> None:
    assert probes.p95([float(v) for v in range(1, 101)]) == 95.0
    assert probes.p95([7.0]) == 7.0


# --- Results of other features (read through checklists.sources) -------------------------------
@pytest.mark.parametrize("probe", ["artifact_capacity", "db_size", "last_cleanup"])
def test_maintenance_probes_without_results_are_unknown(probe: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "capacity_totals", lambda: None)
    monkeypatch.setattr(sources, "last_cleanup", lambda: None)
    result = probes.run_probe(probe)
    assert result.status == "unknown"
    assert result.evidence == "no maintenance results yet"


def test_capacity_probes_compare_with_thresholds(settings, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    settings.MAINTENANCE_ARTIFACT_WARNING_BYTES = 1000
    settings.MAINTENANCE_DATABASE_WARNING_BYTES = 1000
    monkeypatch.setattr(
        sources, "capacity_totals", lambda: sources.CapacityTotals(artifact_bytes=500, db_bytes=1500, measured_at=None)
    )
    assert probes.run_probe("artifact_capacity").status == "pass"
    result = probes.run_probe("db_size")
    assert result.status == "fail" and "150%" in result.evidence


def test_cleanup_probe_needs_a_recent_success(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from django.utils import timezone

    def cleanup(days: int, ok: bool = True):  # type: ignore[no-untyped-def]
        return lambda: sources.CleanupResult(
            succeeded=ok,
            finished_at=timezone.now() - timedelta(days=days),
            status="succeeded" if ok else "failed",
            summary="",
        )

    monkeypatch.setattr(sources, "last_cleanup", cleanup(2))
    assert probes.run_probe("last_cleanup").status == "pass"
    monkeypatch.setattr(sources, "last_cleanup", cleanup(9))
    assert "older than 7 days" in probes.run_probe("last_cleanup").evidence
    monkeypatch.setattr(sources, "last_cleanup", cleanup(1, ok=False))
    assert probes.run_probe("last_cleanup").status == "fail"


def test_naming_probes_read_the_catalog_index_and_the_registry_lint(mlflow: str) -> None:
    """Experiment naming over the catalog's synced index; model naming over the real registry."""
    from catalog.sync import catalog_sync

    assert probes.run_probe("experiment_naming").status == "unknown"  # nothing synced yet
    catalog_sync(full=True)
    experiments = probes.run_probe("experiment_naming")
    assert experiments.status == "warn" and "experiment names break the conventions" in experiments.evidence
    models = probes.run_probe("model_naming")
    assert models.status == "warn"
    assert "xgboost-fraud-v3" in models.evidence and "bert-search-ranking-2026" in models.evidence
    assert "fraud-detector:" not in models.evidence
