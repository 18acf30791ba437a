"""Issue 22: the prefix scheme in one registry (dev.<model> → prod.<model> with copy_model_version), the
CI API (side by side, promote, gate refusal as 422), and the [environments] section of the configuration
file (export/apply round-trip; credentials in a URI refused)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from configuration.files import ConfigInvalid
from configuration.services import config_apply, config_diff, config_export
from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib import mlflow_support
from mlopsadmin.lib.mlflow_connection import client
from registry_ui.environments import services
from registry_ui.environments.copy import FROM_TAGS, FROM_VERSION_TAG, TO_TAG_PREFIX

from .helpers import configure, make_version, versions_on

pytestmark = pytest.mark.django_db
PREFIXES: dict[str, dict[str, Any]] = {
    "dev": {"kind": "prefix", "prefix": "dev.", "next": "prod"},
    "prod": {"kind": "prefix", "prefix": "prod.", "require_approval": False},
}


def test_prefix_scheme_copies_within_one_registry(mlflow, personas) -> None:  # type: ignore[no-untyped-def]
    configure(PREFIXES)
    base = f"search-prefix-{uuid.uuid4().hex[:8]}"
    version = make_version(mlflow, f"dev.{base}", score=0.4, description="dev build")

    result = services.promote_to_next(actor=personas["admin"], source_env="dev", model=base, version=version)

    assert (result.target_model, result.target_version) == (f"prod.{base}", "1")
    copied = versions_on(mlflow, f"prod.{base}")[0]
    assert copied["description"] == "dev build" and copied["tags"]["owner"] == "env-tests"
    assert copied["tags"][FROM_TAGS[2]] == f"dev.{base}" and copied["tags"][FROM_VERSION_TAG] == version
    assert versions_on(mlflow, f"dev.{base}")[0]["tags"][TO_TAG_PREFIX + "prod"] == f"prod.{base} v1"
    assert mlflow_support.load_pyfunc(f"models:/prod.{base}/1").predict([[0.0]]) == [0.4]


def test_api_side_by_side_promote_and_gate(mlflow, login) -> None:  # type: ignore[no-untyped-def]
    configure({**PREFIXES, "prod": {**PREFIXES["prod"], "require_approval": True}})
    base = f"search-api-{uuid.uuid4().hex[:8]}"
    make_version(mlflow, f"dev.{base}", score=0.1)
    version = make_version(mlflow, f"dev.{base}", score=0.2)
    admin = login("admin")
    url = f"/api/v1/environments/dev/models/{base}/promote"

    refused = admin.post(url, data={"version": version}, content_type="application/json")
    assert refused.status_code == 422, refused.content
    assert refused.json()["reasons"] == [f"prod requires an approval of v{version} for prod (none approved)"]

    configure(PREFIXES)
    done = admin.post(url, data={"version": version}, content_type="application/json")
    assert done.status_code == 200, done.content
    assert done.json()["target_model"] == f"prod.{base}" and done.json()["target_version"] == "1"
    client().set_registered_model_alias(f"prod.{base}", "champion", "1")

    rows = {r["environment"]: r for r in admin.get(f"/api/v1/environments/models/{base}").json()}
    assert rows["dev"]["latest"] == "2" and rows["prod"]["champion"] == "1", rows
    assert rows["prod"]["copied_from"] == f"dev v{version}" and rows["prod"]["behind"] == 0

    member = login("member_search")
    assert member.post(url, data={"version": version}, content_type="application/json").status_code == 403
    unknown = admin.post(
        f"/api/v1/environments/qa/models/{base}/promote", data={"version": "1"}, content_type="application/json"
    )
    assert unknown.status_code == 400 and "qa" in unknown.json()["detail"]
    assert AuditEvent.objects.filter(
        action=services.AUDIT_ACTION, outcome="failed", reason="refused by the gate of prod"
    ).exists()


def test_environments_round_trip_through_the_configuration_file(db) -> None:  # type: ignore[no-untyped-def]
    configure(
        {
            "dev": {
                "kind": "server",
                "tracking_uri": "http://dev.mlflow.internal:5000",
                "username_env": "DEV_USER",
                "password_env": "DEV_PASSWORD",
                "next": "staging",
            },
            "staging": {"kind": "prefix", "prefix": "staging.", "next": "prod"},
            "prod": {
                "kind": "server",
                "tracking_uri": "https://prod.mlflow.internal",
                "require_approval": True,
                "metric": "accuracy",
                "threshold": 0.9,
            },
        }
    )
    exported = config_export()
    assert "[environments]" in exported and "DEV_PASSWORD" in exported
    assert config_diff(exported) == []
    with pytest.raises(ConfigInvalid) as refused:
        config_apply(
            actor="system:test",
            text='[environments.prod]\nkind = "server"\ntracking_uri = "https://svc:pw@prod.internal"\nnext = "x"\n',
        )
    messages = " ".join(p.message for p in refused.value.problems)
    assert "no credentials in the URI" in messages and "unknown environment 'x'" in messages
