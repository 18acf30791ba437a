"""Issue 22: copy a version to the next environment across two real MLflow servers (dev: its own SQLite
store and artifact root; prod: the session server), with the target's gate, lineage, audit, and a failure
part-way that leaves the target clean."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.test import override_settings

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_support
from mlopsadmin.lib.mlflow_connection import client
from registry_ui.approvals.selectors import version_is_approved
from registry_ui.environments import services
from registry_ui.environments.copy import FROM_TAGS, FROM_VERSION_TAG, TO_TAG_PREFIX
from registry_ui.models import ApprovalRequest, ApprovalState
from tests.faults import FaultProxy

from .helpers import configure, make_version, models_named, versions_on

pytestmark = pytest.mark.django_db


def _envs(dev_url: str, prod_url: str, **prod: object) -> dict[str, dict[str, object]]:
    return {
        "dev": {
            "kind": "server",
            "tracking_uri": dev_url,
            "username_env": "MLA_DEV_USER",
            "password_env": "MLA_DEV_PASSWORD",
            "next": "prod",
        },
        "prod": {"kind": "server", "tracking_uri": prod_url, **prod},
    }


def test_copy_brings_artifacts_and_loads_from_target_with_source_stopped(
    dev_mlflow,
    mlflow,
    personas,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("MLA_DEV_USER", "svc-dev")
    monkeypatch.setenv("MLA_DEV_PASSWORD", "s3cret-dev")
    configure(_envs(dev_mlflow.url, mlflow))
    name = f"search-env-{uuid.uuid4().hex[:8]}"
    make_version(dev_mlflow.url, name, score=0.25)
    version = make_version(dev_mlflow.url, name, score=0.75, description="tested in dev")
    with override_settings(MLFLOW_TRACKING_URI=dev_mlflow.url):  # approved in dev (tags, as an approval writes)
        client().set_model_version_tag(name, version, "approved_by", "lead-in-dev")
        client().set_model_version_tag(name, version, "approval_date", "2026-01-02")

    result = services.promote_to_next(actor=personas["admin"], source_env="dev", model=name, version=version)

    copied = {v["version"]: v for v in versions_on(mlflow, name)}
    assert list(copied) == [result.target_version] == ["1"]
    tags = copied["1"]["tags"]
    assert copied["1"]["description"] == "tested in dev"
    assert tags["owner"] == "env-tests"
    assert tags[FROM_TAGS[0]] == "dev" and tags[FROM_TAGS[1]] == dev_mlflow.url and tags[FROM_VERSION_TAG] == version
    assert "svc-dev" not in str(tags) and "s3cret" not in str(tags)
    assert "approved_by" not in tags and "approval_date" not in tags  # dev's approval does not approve prod
    source_tags = next(v["tags"] for v in versions_on(dev_mlflow.url, name) if v["version"] == version)
    assert source_tags[TO_TAG_PREFIX + "prod"] == f"{name} v1"
    event = AuditEvent.objects.filter(action=services.AUDIT_ACTION).latest("id")
    assert event.outcome == "ok" and f"dev v{version} → prod v1" in event.reason

    client().set_registered_model_alias(name, "champion", "1")  # prod (the default server here)
    dev_mlflow.stop()
    try:
        model = mlflow_support.load_pyfunc(f"models:/{name}@champion")
        assert model.predict([[1.0], [2.0]]) == [0.75, 0.75]
    finally:
        dev_mlflow.start()


def test_target_gate_and_approval_apply_per_environment(dev_mlflow, mlflow, personas) -> None:  # type: ignore[no-untyped-def]
    configure(_envs(dev_mlflow.url, mlflow, require_approval=True, metric="accuracy", threshold=0.9))
    name = f"search-gate-{uuid.uuid4().hex[:8]}"
    weak = make_version(dev_mlflow.url, name, score=0.1, metrics={"accuracy": 0.5})
    strong = make_version(dev_mlflow.url, name, score=0.2, metrics={"accuracy": 0.95})
    admin = personas["admin"]

    with pytest.raises(services.GateFailed) as refused:
        services.promote_to_next(actor=admin, source_env="dev", model=name, version=weak)
    assert any("accuracy = 0.5" in r for r in refused.value.extra["reasons"])

    # approved in dev (for the model itself and for 'dev:<model>'): does not approve prod
    for key in (name, f"dev:{name}"):
        ApprovalRequest.objects.create(model_name=key, version=strong, requester=admin, state=ApprovalState.APPROVED)
    with pytest.raises(services.GateFailed) as unapproved:
        services.promote_to_next(actor=admin, source_env="dev", model=name, version=strong)
    assert unapproved.value.extra["reasons"] == [f"prod requires an approval of v{strong} for prod (none approved)"]
    assert models_named(mlflow, name) == []
    refusals = AuditEvent.objects.filter(
        action=services.AUDIT_ACTION, outcome="failed", reason="refused by the gate of prod"
    ).count()
    assert refusals >= 2

    ApprovalRequest.objects.create(
        model_name=f"prod:{name}", version=strong, requester=admin, state=ApprovalState.APPROVED
    )
    assert version_is_approved(model_name=f"prod:{name}", version=strong)
    result = services.promote_to_next(actor=admin, source_env="dev", model=name, version=strong)
    assert result.target_version == "1"

    with pytest.raises(PermissionDenied):
        services.promote_to_next(actor=personas["member_search"], source_env="dev", model=name, version=strong)


def test_failure_part_way_leaves_target_clean(dev_mlflow, mlflow, personas) -> None:  # type: ignore[no-untyped-def]
    name = f"search-fault-{uuid.uuid4().hex[:8]}"
    version = make_version(dev_mlflow.url, name, score=0.3)
    with FaultProxy(mlflow) as proxy:
        # the registration is committed in prod, but its answer is lost on the way back
        proxy.write_path, proxy.drop_after_writes = "/model-versions/create", 1
        configure(_envs(dev_mlflow.url, proxy.url))
        with pytest.raises(services.PromotionCopyFailed) as failed:
            services.promote_to_next(actor=personas["admin"], source_env="dev", model=name, version=version)
    assert failed.value.extra["step"] == "register"
    assert failed.value.extra["left_in_target"] == []
    assert any(item.startswith("version") for item in failed.value.extra["cleaned_up"])
    assert models_named(mlflow, name) == []  # nothing half-registered in prod
    event = AuditEvent.objects.filter(action=services.AUDIT_ACTION).latest("id")
    assert event.outcome == "failed" and event.after["left_in_target"] == []
    assert TO_TAG_PREFIX + "prod" not in versions_on(dev_mlflow.url, name)[0]["tags"]
