"""Issue 22 (break-test): a copy runs inside the web request, so a copy longer than the worker's timeout
is killed mid-way (gunicorn kills the worker: no except-block runs, no outcome is recorded). Before any
write to the target the copy records `environment.copy` (pending) with its copy id; once that event has
no outcome after the grace period (longer than the lock's TTL), the confirm page offers to clean up what
the killed copy left in the target. The kill is a SystemExit raised inside the artifact upload."""

from __future__ import annotations

import html
import re
import time
import uuid

import pytest
from django.test import override_settings

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_env_artifacts
from mlopsadmin.lib.mlflow_connection import client

from .helpers import configure, make_version, versions_on

pytestmark = pytest.mark.django_db(transaction=True)


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def _runs_of_copy(server_url: str, copy_id: str) -> dict[str, str]:
    """{run id: lifecycle stage} of the runs in the target tagged with `copy_id`."""
    with override_settings(MLFLOW_TRACKING_URI=server_url):
        mlflow = client()
        experiment = mlflow.get_experiment_by_name("/mlopsadmin/promotions")
        assert experiment is not None
        found = mlflow.search_runs(
            [experiment.experiment_id], f"tags.`mlopsadmin.copy_id` = '{copy_id}'", run_view_type=3
        )
        return {r.info.run_id: r.info.lifecycle_stage for r in found}


def _killed_copy(dev_mlflow, mlflow, login, monkeypatch, prefix: str):  # type: ignore[no-untyped-def]
    """Make a version in dev, click "Promote to prod" and kill the worker inside the artifact upload (the
    artifacts reached prod's run first). Returns (the lead's client, the confirm page's URL)."""
    base = f"search-{prefix}-{uuid.uuid4().hex[:8]}"
    version = make_version(mlflow, base, score=0.5)
    confirm_url = f"/registry/models/{base}/versions/{version}/promote"
    configure(
        {
            "dev": {"kind": "server", "tracking_uri": mlflow, "next": "prod"},
            "prod": {"kind": "server", "tracking_uri": dev_mlflow.url},
        }
    )
    lead = login("lead_search")
    real_upload = mlflow_env_artifacts.upload

    def killed(*args, **kwargs):  # type: ignore[no-untyped-def]
        real_upload(*args, **kwargs)  # the artifacts reach the target's run ...
        raise SystemExit("worker timeout")  # ... and the worker is killed before the copy ends

    monkeypatch.setattr(mlflow_env_artifacts, "upload", killed)
    with pytest.raises(SystemExit):
        lead.post(confirm_url, {"target": "prod"})
    monkeypatch.setattr(mlflow_env_artifacts, "upload", real_upload)
    return lead, base, confirm_url


def test_a_copy_killed_mid_way_is_recorded_and_its_leftovers_cleaned_up(  # type: ignore[no-untyped-def]
    dev_mlflow, mlflow, login, settings, monkeypatch
) -> None:
    settings.PROMOTION_LOCK_TTL_SECONDS, settings.WEB_TIMEOUT_SECONDS = 2, 1  # grace: max(1, 2) + 2 s
    lead, base, confirm_url = _killed_copy(dev_mlflow, mlflow, login, monkeypatch, "killed")
    version = "1"

    started = AuditEvent.objects.filter(action="environment.copy").latest("id")
    assert started.outcome == "pending" and started.reason == "started"
    copy_id = started.after["copy_id"]
    assert started.after["model"] == base and started.after["environment"] == "prod"
    assert str(started.after["source_version"]) == version
    assert not AuditEvent.objects.filter(action="environment.promote", after__copy_id=copy_id).exists()
    runs = _runs_of_copy(dev_mlflow.url, copy_id)
    assert list(runs.values()) == ["active"]  # what the killed copy left in prod
    (run_id,) = runs

    time.sleep(4.5)  # the grace period passes: the copy is not running any more (its lock has expired)
    text = _text(lead.get(confirm_url))
    assert "A copy of v1 that failed earlier left this in prod" in text and run_id in text, text
    assert "Clean up prod" in text
    cleaned = lead.post(f"{confirm_url}/cleanup", {"target": "prod"})
    assert cleaned.status_code == 302, _text(cleaned)
    after = _text(lead.get(confirm_url))
    assert f"run {run_id}" in after and "left this in prod" not in after
    assert _runs_of_copy(dev_mlflow.url, copy_id) == {run_id: "deleted"}

    done = lead.post(confirm_url, {"target": "prod"})  # the leftover does not block a new copy
    assert done.status_code == 302, _text(done)
    assert [v["version"] for v in versions_on(dev_mlflow.url, base)] == ["1"]


def test_a_running_copy_is_not_offered_for_clean_up_before_the_grace_period(  # type: ignore[no-untyped-def]
    dev_mlflow, mlflow, login, settings, monkeypatch
) -> None:
    settings.PROMOTION_LOCK_TTL_SECONDS = 30
    lead, _, confirm_url = _killed_copy(dev_mlflow, mlflow, login, monkeypatch, "young")
    assert AuditEvent.objects.filter(action="environment.copy", outcome="pending").exists()
    text = _text(lead.get(confirm_url))
    assert "Clean up prod" not in text and "left this in prod" not in text  # it may still be running
