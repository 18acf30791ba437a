"""Issue 16 break-test, case 3: an approval tag write that timed out but was applied by MLflow is read back
and put back on the failure path, so a later import cannot count the stale tag as an outside approval."""

from __future__ import annotations

import threading

import pytest

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.approvals import services as approvals
from registry_ui.approvals.imports import approvals_import
from registry_ui.models import ImportedApproval
from tests.faults import FaultProxy

pytestmark = pytest.mark.django_db


def test_an_approval_tag_applied_after_its_write_timed_out_is_put_back(make_model, personas, settings) -> None:
    name = make_model([{"val_ndcg_at_10": 0.8}], approval_required=True).name
    request = approvals.approval_request_create(actor=personas["member_search"], model_name=name, version="1")
    settings.MLFLOW_REQUEST_TIMEOUT = 2
    settings.MLFLOW_REQUEST_MAX_RETRIES = 0  # the timed-out write is not sent again
    with FaultProxy(settings.MLFLOW_TRACKING_URI) as proxy:
        settings.MLFLOW_TRACKING_URI, live = proxy.url, settings.MLFLOW_TRACKING_URI
        proxy.freeze_after_writes = 1  # approved_by is committed by MLflow, its answer is lost ...
        thaw = threading.Timer(3.0, proxy.thaw)  # ... MLflow answers again after the write timed out
        thaw.start()
        try:
            with pytest.raises(approvals.ApprovalWriteFailed) as info:
                approvals.approval_request_approve(actor=personas["lead_search"], request_id=request.pk)
        finally:
            thaw.cancel()
            proxy.thaw()
            settings.MLFLOW_TRACKING_URI = live

    tags = mlf.get_model_version(name, "1").tags
    assert "approved_by" not in tags and "approval_date" not in tags, tags  # read back and put back
    assert "manual check" not in str(info.value)
    event = AuditEvent.objects.filter(action="approval.approve", target_id=f"{name}/1").latest("id")
    assert event.outcome == "failed", (event.outcome, event.reason)

    approvals_import(model_name=name)  # a later import finds no stale approval tag
    assert not ImportedApproval.objects.filter(model_name=name).exists()
