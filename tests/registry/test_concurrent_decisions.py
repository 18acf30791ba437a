"""20 concurrent approve/reject requests for one approval request (HTTP against the live server, real
MLflow server, PostgreSQL row locks): exactly one decides, the others get a clear 409 (never a 500), MLflow's
tags equal the recorded decision and the one audit event names the person who decided."""

from __future__ import annotations

import threading

import pytest
import requests
from django.db import connection

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.core.services import api_token_create
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.approvals.services import approval_request_create

from .conftest import make_model

REQUESTS = 20


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_approve_and_reject_of_one_request(live_server, mlflow, personas) -> None:  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL (DATABASE_URL)")
    model = make_model()
    request = approval_request_create(actor=personas["member_search"], model_name=model.name, version=model.versions[1])
    tokens = {who: api_token_create(actor="test", user=personas[who], name="ci")[1] for who in ("lead_search", "admin")}
    start = threading.Barrier(REQUESTS)
    answers: list[tuple[str, str, requests.Response]] = []

    def decide(index: int) -> None:
        who, verb = ("lead_search", "approve") if index % 2 else ("admin", "reject")
        start.wait()
        response = requests.post(
            f"{live_server.url}/api/v1/registry/approvals/{request.pk}/{verb}",
            json={"comment": f"{verb} #{index}"},
            headers={"Authorization": f"Bearer {tokens[who]}"},
            timeout=60,
        )
        answers.append((who, verb, response))

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    statuses = sorted(r.status_code for _, _, r in answers)
    assert statuses == [200] + [409] * (REQUESTS - 1), [r.text[:200] for _, _, r in answers if r.status_code != 409]
    assert all(r.headers["Content-Type"].startswith("application/json") for _, _, r in answers)
    winner, verb, _ = next(a for a in answers if a[2].status_code == 200)
    tags = mlf.get_model_version(model.name, model.versions[1]).tags
    decisions = AuditEvent.objects.filter(
        action__in=["approval.approve", "approval.reject"], target_id__startswith=model.name
    )
    assert [(e.action, e.actor_name, e.outcome) for e in decisions] == [(f"approval.{verb}", winner, "ok")]
    assert tags.get("approved_by") == (winner if verb == "approve" else None)
