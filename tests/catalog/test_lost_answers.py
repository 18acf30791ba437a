"""Issue 14, case 1 kind, for the catalog's MLflow writes: a rename, a created experiment or a run tag whose
answer is lost after MLflow applied it (a fault proxy in front of the real MLflow server drops the answer) is
read back, recorded as MLflow shows it and attributed to the person who asked — never "nothing was changed"
with no audit event while MLflow holds the change."""

from __future__ import annotations

import pytest

from catalog import fixes as services
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from tests.faults import FaultProxy

pytestmark = pytest.mark.django_db


@pytest.fixture
def answers_lost(settings, monkeypatch):  # type: ignore[no-untyped-def]
    """Every write whose path contains the given text reaches MLflow and its answer is lost (1 s timeout)."""
    live = settings.MLFLOW_TRACKING_URI
    settings.MLFLOW_REQUEST_TIMEOUT = 1
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    started: list[FaultProxy] = []

    def _lose(path: str) -> None:
        proxy = FaultProxy(live).__enter__()
        proxy.write_path, proxy.drop_after_writes = path, 1
        settings.MLFLOW_TRACKING_URI = proxy.url
        started.append(proxy)

    yield _lose
    settings.MLFLOW_TRACKING_URI = live
    for proxy in started:
        proxy.__exit__()


def test_a_rename_whose_answer_is_lost_is_recorded_as_mlflow_shows_it(  # type: ignore[no-untyped-def]
    personas,
    bad_experiment,
    unique,
    answers_lost,  # noqa: F811
) -> None:
    experiment_id, name, _ = bad_experiment
    new_name = f"/search-team/fix-{unique}/renamed"
    answers_lost("/experiments/update")
    row = services.experiment_rename(
        actor=personas["lead_search"], experiment_id=experiment_id, new_name=new_name, expected_name=name
    )
    assert row.name == new_name
    event = AuditEvent.objects.get(action="experiment.rename", target_id=experiment_id)
    assert (event.outcome, event.actor_name, event.after) == ("ok", "lead_search", {"name": new_name})
    assert "read back" in event.reason


def test_a_created_experiment_whose_answer_is_lost_is_recorded_as_created(  # type: ignore[no-untyped-def]
    personas, synced, unique, answers_lost
) -> None:
    name = f"/search-team/lost-{unique}/baseline"
    answers_lost("/experiments/create")
    row = services.experiment_create(
        actor=personas["member_search"], team="search", project=f"lost-{unique}", experiment_type="baseline"
    )
    found = mlf.get_experiment_by_name(name)
    assert found is not None and row.experiment_id == found.experiment_id
    event = AuditEvent.objects.get(action="experiment.create", target_id=found.experiment_id)
    assert (event.outcome, event.actor_name) == ("ok", "member_search") and "read back" in event.reason


def test_run_tags_whose_answers_are_lost_are_recorded_as_tagged(  # type: ignore[no-untyped-def]
    personas,
    bad_experiment,
    answers_lost,  # noqa: F811
) -> None:
    experiment_id, _, run_ids = bad_experiment
    answers_lost("/runs/set-tag")
    result = services.runs_tag_set(
        actor=personas["lead_search"], experiment_id=experiment_id, run_ids=run_ids[:2], key="owner", value="ana"
    )
    assert sorted(result.tagged) == sorted(run_ids[:2]) and not result.failed
    assert {mlf.get_run(r).tags.get("owner") for r in run_ids[:2]} == {"ana"}
    event = AuditEvent.objects.get(action="experiment.tag_runs", target_id=experiment_id)
    assert event.outcome == "ok" and sorted(event.after["run_ids"]) == sorted(run_ids[:2])
