"""Case 7 of issue 16: the alias history starts with a recorded baseline, taken at install (manage.py
alias_baseline) or at the first sync, never silently; later external moves are recorded against it."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.promotion.models import AliasEvent
from registry_ui.promotion.services import alias_reconcile

pytestmark = pytest.mark.django_db


def test_install_takes_the_baseline_then_external_moves_are_recorded(make_model) -> None:
    name = make_model([{"val_ndcg_at_10": 0.8}, {"val_ndcg_at_10": 0.9}], aliases={"champion": 1}).name
    call_command("alias_baseline")  # at install

    baseline = AliasEvent.objects.get(model_name=name, source=AliasEvent.SOURCE_BASELINE)
    assert (baseline.alias, baseline.from_version, baseline.to_version) == ("champion", "", "1")
    assert baseline.reason.startswith("Aliases as found when mlopsadmin first read this model")

    mlf.set_model_alias(name, "champion", 2)  # directly in MLflow
    report = alias_reconcile(model_name=name)
    assert report.changes == 1 and report.baselines == 0
    external = AliasEvent.objects.get(model_name=name, source=AliasEvent.SOURCE_EXTERNAL)
    assert (external.from_version, external.to_version) == ("1", "2")
    assert AliasEvent.objects.filter(model_name=name, source=AliasEvent.SOURCE_BASELINE).count() == 1


def test_first_sync_of_a_model_records_its_baseline(make_model) -> None:
    name = make_model([{"val_ndcg_at_10": 0.8}], aliases={"champion": 1}).name
    report = alias_reconcile(model_name=name)
    assert report.baselines == 1
    assert AliasEvent.objects.filter(model_name=name, action="baseline", to_version="1").exists()


def test_a_model_created_after_install_has_its_outside_aliases_recorded_as_changes(make_model) -> None:
    """Break-test of case 7: the baseline is what existed at install / first sync. A model registered later
    and given @champion directly in MLflow before the next reconcile sweep was taken as its own 'baseline'
    (no external change, no audit event, no notification): the change escaped the history. Its aliases are
    changes made outside mlopsadmin, recorded as such."""
    from mlopsadmin.core.models import AuditEvent

    make_model([{"val_ndcg_at_10": 0.8}], aliases={"champion": 1})
    call_command("alias_baseline")  # at install
    later = make_model([{"val_ndcg_at_10": 0.8}, {"val_ndcg_at_10": 0.9}], aliases={"champion": 2}).name
    report = alias_reconcile()  # the next scheduled sweep
    assert report.baselines == 0
    moved = AliasEvent.objects.get(model_name=later)
    assert (moved.source, moved.from_version, moved.to_version) == (AliasEvent.SOURCE_EXTERNAL, "", "2")
    event = AuditEvent.objects.get(action="model.alias_external_change", target_id=later)
    assert event.after["aliases"] == {"champion": "2"} and event.before["aliases"] == {}
