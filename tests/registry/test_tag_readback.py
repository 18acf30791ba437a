"""Issue 14: version tags written by approvals (and by the metadata tag editor) are read back from MLflow
after a failed or timed-out write, before the outcome is recorded — as alias changes are. A fault proxy in
front of the real MLflow server lets a tag write reach MLflow and then drops its answer, or freezes so that
nothing can be read back. In every case MLflow's final tags equal what the audit log says."""

from __future__ import annotations

import time

import pytest

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import services as registry_services
from registry_ui.approvals import services
from registry_ui.approvals.imports import approvals_import
from registry_ui.models import ImportedApproval
from tests.faults import FaultProxy

pytestmark = pytest.mark.django_db

APPROVAL_TAGS = ("approved_by", "approval_date")
SET_TAG = "/model-versions/set-tag"


def _approval_tags(name: str, version: str) -> dict[str, str]:
    tags = mlf.get_model_version(name, version).tags
    return {k: tags[k] for k in APPROVAL_TAGS if k in tags}


def _last(action: str, target: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action, target_id=target).order_by("-id").first()  # type: ignore[return-value]


@pytest.mark.parametrize("lost", [1, 2])
def test_an_approval_whose_tag_answer_is_lost_is_recorded_as_mlflow_shows_it(  # type: ignore[no-untyped-def]
    own_model, personas, settings, lost
) -> None:
    name, version = own_model.name, own_model.versions[1]
    req = services.approval_request_create(actor=personas["member_search"], model_name=name, version=version)
    live = settings.MLFLOW_TRACKING_URI
    error: Exception | None = None
    with FaultProxy(live) as proxy:
        proxy.write_path, proxy.drop_after_writes = SET_TAG, lost  # that tag write lands, its answer is lost
        settings.MLFLOW_TRACKING_URI = proxy.url
        try:
            services.approval_request_approve(actor=personas["lead_search"], request_id=req.pk)
        except services.ApprovalWriteFailed as exc:
            error = exc
    settings.MLFLOW_TRACKING_URI = live
    req.refresh_from_db()
    tags, event = _approval_tags(name, version), _last("approval.approve", req.target_id)
    if lost == 2:  # both tags reached MLflow: the approval happened, and is recorded
        assert error is None and req.state == "approved"
        assert tags["approved_by"] == "lead_search" and set(tags) == set(APPROVAL_TAGS)
        assert event.outcome == "ok" and "read back" in event.reason and event.actor_name == "lead_search"
    else:  # only approved_by reached MLflow: it is put back, and what MLflow shows is said
        assert error is not None and getattr(error, "status", None) == 503
        assert "MLflow shows the version as before" in str(error)
        assert req.state == "pending" and tags == {}
        assert event.outcome == "failed" and event.after["mlflow_tags"] == {}
    approvals_import(model_name=name)  # nothing left for the importer to call "approved outside"
    assert not ImportedApproval.objects.filter(model_name=name).exists()


def _approve_then_freeze(personas, settings, name: str, version: str, *, landed: int):  # type: ignore[no-untyped-def]
    """Approve through a proxy that lets `landed` tag writes reach MLflow and then stops answering anything
    (1 s gateway timeout): the write's answer and the read-back are lost. Returns (request, the refusal)."""
    req = services.approval_request_create(actor=personas["member_search"], model_name=name, version=version)
    live = settings.MLFLOW_TRACKING_URI
    settings.MLFLOW_REQUEST_TIMEOUT = 1
    settings.MLFLOW_REQUEST_MAX_RETRIES = 0
    with FaultProxy(live) as proxy:
        proxy.write_path, proxy.freeze_after_writes = SET_TAG, landed
        settings.MLFLOW_TRACKING_URI = proxy.url
        with pytest.raises(services.ApprovalWriteFailed) as caught:
            services.approval_request_approve(actor=personas["lead_search"], request_id=req.pk)
        proxy.thaw()
        time.sleep(0.5)  # requests the proxy held reach MLflow now (nothing was sent blind: no restore)
    settings.MLFLOW_TRACKING_URI = live
    return req, caught.value


def test_an_approval_whose_outcome_cannot_be_read_is_unknown_then_resolved(  # type: ignore[no-untyped-def]
    own_model, personas, settings
) -> None:
    name, version = own_model.name, own_model.versions[1]
    req, error = _approve_then_freeze(personas, settings, name, version, landed=1)  # lands, then no answers
    assert error.status == 503 and "unknown" in str(error)  # type: ignore[attr-defined]
    event = _last("approval.approve", req.target_id)
    assert event.outcome == "unknown" and event.after["mlflow_tags"] is None
    assert _approval_tags(name, version) == {"approved_by": "lead_search"}  # the first write landed
    approvals_import(model_name=name)  # the hourly import resolves it first: read back, put back, recorded
    req.refresh_from_db()
    assert req.state == "pending" and _approval_tags(name, version) == {}
    resolved = _last("approval.approve", req.target_id)
    assert (resolved.outcome, resolved.actor_name) == ("failed", "lead_search") and "read back" in resolved.reason
    assert not ImportedApproval.objects.filter(model_name=name).exists()  # never "approved outside"
    services.approval_request_approve(actor=personas["lead_search"], request_id=req.pk)  # a retry works
    assert _approval_tags(name, version)["approved_by"] == "lead_search"


def test_an_unknown_approval_that_landed_is_completed_by_the_resolution(own_model, personas, settings) -> None:  # type: ignore[no-untyped-def]
    name, version = own_model.name, own_model.versions[1]
    req, _ = _approve_then_freeze(personas, settings, name, version, landed=2)  # the 2nd answer never comes
    assert set(_approval_tags(name, version)) == set(APPROVAL_TAGS)
    approvals_import(model_name=name)
    req.refresh_from_db()
    assert req.state == "approved" and req.decided_by == personas["lead_search"]
    resolved = _last("approval.approve", req.target_id)
    assert (resolved.outcome, resolved.actor_name) == ("ok", "lead_search") and "read back" in resolved.reason
    assert not ImportedApproval.objects.filter(model_name=name).exists()


def test_an_approval_applied_after_its_read_back_is_never_imported_as_outside(  # type: ignore[no-untyped-def]
    own_model, personas, settings, monkeypatch
) -> None:
    """The tag write times out, the read-back (answered at once) shows nothing, and only then does MLflow
    apply the write (a slow write, applied from its backlog). Before: recorded 'failed', the request pending,
    MLflow showing approved_by, and the hourly import recorded it as an approval made outside mlopsadmin
    (approval.import by the system), which the gate counts."""
    name, version = own_model.name, own_model.versions[1]
    req = services.approval_request_create(actor=personas["member_search"], model_name=name, version=version)
    live = settings.MLFLOW_TRACKING_URI
    settings.MLFLOW_REQUEST_TIMEOUT, settings.MLFLOW_REQUEST_MAX_RETRIES = 1, 0
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    with FaultProxy(live) as proxy:
        proxy.write_path, proxy.write_delay = SET_TAG, 1.5  # reaches MLflow 0.5 s after the caller gave up
        settings.MLFLOW_TRACKING_URI = proxy.url
        with pytest.raises(services.ApprovalWriteFailed) as caught:
            services.approval_request_approve(actor=personas["lead_search"], request_id=req.pk)
        time.sleep(1.5)  # the held write lands now
    settings.MLFLOW_TRACKING_URI = live
    assert "may still apply it late" in str(caught.value)
    assert _approval_tags(name, version) == {"approved_by": "lead_search"}  # landed after the read-back
    approvals_import(model_name=name)
    req.refresh_from_db()
    assert req.state == "pending" and _approval_tags(name, version) == {}  # put back, read back
    resolved = _last("approval.approve", req.target_id)
    assert (resolved.outcome, resolved.actor_name) == ("failed", "lead_search") and "late" in resolved.reason
    assert resolved.after["mlflow_tags"] == {}
    assert not ImportedApproval.objects.filter(model_name=name).exists()
    assert not AuditEvent.objects.filter(action="approval.import", target_id=req.target_id).exists()


@pytest.mark.parametrize("landed", [1, 2])
def test_a_frozen_mlflow_ends_an_approval_within_the_action_deadline(  # type: ignore[no-untyped-def]
    own_model, personas, settings, monkeypatch, landed
) -> None:
    """MLflow stops answering right after applying an approval's first (or second) tag write, with the
    gateway's retries on (the default). Before: the write was retried and the read-back too, each at the full
    timeout: 4 × the timeout (60 s in production, gunicorn's worker timeout: killed before anything was
    recorded). Now one deadline (PROMOTION_DEADLINE_SECONDS) bounds the writes and read-backs of a decision."""
    name, version = own_model.name, own_model.versions[1]
    req = services.approval_request_create(actor=personas["member_search"], model_name=name, version=version)
    live = settings.MLFLOW_TRACKING_URI
    settings.MLFLOW_REQUEST_TIMEOUT, settings.MLFLOW_REQUEST_MAX_RETRIES = 1.5, 1
    settings.PROMOTION_DEADLINE_SECONDS = 4.5  # production's 40 s against a 15 s timeout, scaled
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1.5")
    with FaultProxy(live) as proxy:
        proxy.write_path, proxy.freeze_after_writes = SET_TAG, landed
        settings.MLFLOW_TRACKING_URI = proxy.url
        started = time.monotonic()
        with pytest.raises(services.ApprovalWriteFailed) as caught:
            services.approval_request_approve(actor=personas["lead_search"], request_id=req.pk)
        took = time.monotonic() - started
        proxy.thaw()
        time.sleep(0.5)  # requests the proxy held reach MLflow now
    settings.MLFLOW_TRACKING_URI = live
    assert took < settings.PROMOTION_DEADLINE_SECONDS + 1, took  # + the read-back's 1 s floor
    assert caught.value.status == 503 and "unknown" in str(caught.value)  # type: ignore[attr-defined]
    assert _last("approval.approve", req.target_id).outcome == "unknown"
    approvals_import(model_name=name)  # resolved from what MLflow shows, never imported as outside
    req.refresh_from_db()
    if landed == 1:  # put back
        assert req.state == "pending" and _approval_tags(name, version) == {}
    else:  # every tag there: the approval stands, by the approver
        assert req.state == "approved" and req.decided_by == personas["lead_search"]
        assert _approval_tags(name, version)["approved_by"] == "lead_search"
    assert not ImportedApproval.objects.filter(model_name=name).exists()


def test_a_metadata_tag_whose_answer_is_lost_is_recorded_as_applied(own_model, personas, settings) -> None:  # type: ignore[no-untyped-def]
    name, version = own_model.name, own_model.versions[0]
    live = settings.MLFLOW_TRACKING_URI
    with FaultProxy(live) as proxy:
        proxy.write_path, proxy.drop_after_writes = SET_TAG, 1
        settings.MLFLOW_TRACKING_URI = proxy.url
        value = registry_services.version_tag_set(
            actor=personas["member_search"], model_name=name, version=version, key="training_commit", value="abc1"
        )
    settings.MLFLOW_TRACKING_URI = live
    assert value == "abc1" and mlf.get_model_version(name, version).tags["training_commit"] == "abc1"
    event = _last("model_version.tag_set", f"{name}/{version}")
    assert event.outcome == "ok" and event.after == {"training_commit": "abc1"} and "read back" in event.reason


@pytest.mark.parametrize("fault", ["applied_after_read_back", "unreadable"])
def test_an_unsettled_metadata_tag_is_settled_later_from_mlflow(  # type: ignore[no-untyped-def]
    own_model, personas, settings, monkeypatch, fault
) -> None:
    """Before: a tag write whose answer was lost stayed 'unknown' for ever (MLflow unreadable at the time), or
    'failed' while MLflow applied it a moment later from its backlog; the tag then sat in MLflow with no record."""
    name, version = own_model.name, own_model.versions[0]
    target = f"{name}/{version}"
    live = settings.MLFLOW_TRACKING_URI
    settings.MLFLOW_REQUEST_TIMEOUT, settings.MLFLOW_REQUEST_MAX_RETRIES = 1, 0
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    with FaultProxy(live) as proxy:
        if fault == "unreadable":
            proxy.write_path, proxy.freeze_after_writes = SET_TAG, 1  # applied, then nothing answers
        else:
            proxy.write_path, proxy.write_delay = SET_TAG, 1.5  # reaches MLflow after the read-back
        settings.MLFLOW_TRACKING_URI = proxy.url
        with pytest.raises(registry_services.TagWriteUnsettled) as caught:
            registry_services.version_tag_set(
                actor=personas["member_search"], model_name=name, version=version, key="training_commit", value="c0ffee"
            )
        proxy.thaw()
        time.sleep(1.5)  # the held write lands now
    settings.MLFLOW_TRACKING_URI = live
    recorded = _last("model_version.tag_set", target)
    assert recorded.outcome == ("unknown" if fault == "unreadable" else "failed")
    assert caught.value.status == 503 and "records what it shows" in str(caught.value)
    assert mlf.get_model_version(name, version).tags["training_commit"] == "c0ffee"  # MLflow applied it
    approvals_import(model_name=name)  # the hourly import settles our own unsettled writes first
    settled = _last("model_version.tag_set", target)
    assert settled.id != recorded.id and (settled.outcome, settled.actor_name) == ("ok", "member_search")
    assert settled.after == {"training_commit": "c0ffee"} and "MLflow shows the value asked for" in settled.reason
    approvals_import(model_name=name)
    assert _last("model_version.tag_set", target).id == settled.id  # settled once
