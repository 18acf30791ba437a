"""An alias change whose outcome was unknown (MLflow applied a write, then stopped answering) or failed
with a lost answer (MLflow applied the write late, from its backlog) is resolved later by the
reconciliation task on the real Celery worker; the team, the watchers and the person who asked are then
told the final outcome by email (aiosmtpd process): "repair needed" when only part of it was applied,
the action's own notice when all of it was. Faults come from a proxy in front of the real MLflow server."""

from __future__ import annotations

import time
from typing import Any

import pytest

from mlopsadmin.lib import mlflow_client as mlf
from notifications.models import DeliveryState, Notification
from notifications.services import model_watch_set
from registry_ui.promotion import services as promotion
from registry_ui.tasks import alias_reconcile_scheduled
from tests.faults import FaultProxy
from tests.notifications.conftest import mails_about, wait_delivered

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _rows_of(name: str, event: str, *, timeout: float = 60.0) -> list[Notification]:
    """Wait until the worker has recorded notifications of `event` about model `name`; then until sent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ids = list(Notification.objects.filter(model_name=name, event=event).values_list("pk", flat=True))
        if ids:
            return list(wait_delivered(ids).values())
        time.sleep(0.3)
    raise AssertionError(f"no {event} notification about {name} after {timeout} s")


def _frozen_after_the_first_write(settings: object, change: Any) -> None:
    """Run `change()` while MLflow applies the first write, then stops answering: the outcome is unknown."""
    with FaultProxy(settings.MLFLOW_TRACKING_URI) as proxy:  # type: ignore[attr-defined]
        settings.MLFLOW_TRACKING_URI, live = proxy.url, settings.MLFLOW_TRACKING_URI  # type: ignore[attr-defined]
        proxy.freeze_after_writes = 1
        try:
            with pytest.raises(promotion.OutcomeUnknown):
                change()
        finally:
            proxy.thaw()
            settings.MLFLOW_TRACKING_URI = live  # type: ignore[attr-defined]


def _unknown_promotion(name: str, actor: object, settings: object) -> None:
    # @previous-champion is written, @champion never: part of it
    _frozen_after_the_first_write(settings, lambda: promotion.alias_promote(model_name=name, actor=actor))


def _unknown_challenger(name: str, actor: object, settings: object) -> None:
    # the only write is applied: all of it
    _frozen_after_the_first_write(
        settings, lambda: promotion.alias_make_challenger(model_name=name, version="2", actor=actor)
    )


def _late_promotion(name: str, actor: object, settings: object) -> None:
    with FaultProxy(settings.MLFLOW_TRACKING_URI) as proxy:  # type: ignore[attr-defined]
        settings.MLFLOW_TRACKING_URI, live = proxy.url, settings.MLFLOW_TRACKING_URI  # type: ignore[attr-defined]
        proxy.write_delay = 4  # the first write outlives the 2 s timeout, then MLflow applies it
        try:
            with pytest.raises(promotion.ChangeFailed):  # read back at once: nothing applied yet
                promotion.alias_promote(model_name=name, actor=actor)
            deadline = time.monotonic() + 20
            while "previous-champion" not in mlf.get_registered_model(name).aliases:
                assert time.monotonic() < deadline, "the delayed write never reached MLflow"
                time.sleep(0.2)
        finally:
            settings.MLFLOW_TRACKING_URI = live  # type: ignore[attr-defined]


CASES = {  # change → (event the reconciliation reports, subject, what the aliases show)
    "unknown, then partial": (_unknown_promotion, "model.repair_needed", "Repair needed: {name}"),
    "unknown, then all applied": (_unknown_challenger, "model.challenger_set", "{name}: @challenger → v2"),
    "failed, then applied late": (_late_promotion, "model.repair_needed", "Repair needed: {name}"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_change_resolved_by_reconciliation_tells_the_team_and_the_actor_its_final_outcome(  # type: ignore[no-untyped-def]
    case, celery_worker, notify_settings, personas, make_model, smtp_server, fast_timeouts
):
    change, event, subject = CASES[case]
    name = make_model([0.85, 0.86], aliases={"champion": 1, "challenger": 2} if "promotion" in change.__name__ else {})
    model_watch_set(actor=personas["member_fraud"], model_name=name, watch=True)
    change(name, personas["lead_search"], notify_settings)

    alias_reconcile_scheduled.delay(model_name=name)  # what the 15-minute schedule (or the follow-up) runs
    rows = _rows_of(name, event)
    assert {n.state for n in rows} == {DeliveryState.SENT}
    expected = subject.format(name=name)
    mails = mails_about(smtp_server.messages(), name)
    for user in ("lead_search", "lead_search_2", "member_fraud"):  # the person who asked learns it too
        assert mails.count((f"{user}@example.com", expected)) == 1, (user, mails)
    body = "\n".join(next(n for n in rows if n.channel == "email").lines)
    assert "requested by lead_search" in body and "by reconciliation" in body, body

    assert promotion.alias_reconcile(model_name=name).models_checked == 1  # resolved once: told once
    assert Notification.objects.filter(model_name=name, event=event).count() == len(rows)
