"""Approvals per environment (issue 22) are approval requests of model `<env>:<model there>`: their
notifications go to the team that owns the model and link to a page that exists."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from mlopsadmin.lib.mlflow_environments import EnvironmentHandle
from mlopsadmin.lib.mlflow_errors import MlflowUnavailable
from notifications.models import Notification
from registry_ui.approvals import services as approvals
from registry_ui.environments import services as environments
from registry_ui.environments.approvals import environment_approval_request
from tests.environments.helpers import configure, make_version

pytestmark = pytest.mark.django_db
PREFIXES: dict[str, dict[str, Any]] = {
    "dev": {"kind": "prefix", "prefix": "dev.", "next": "prod"},
    "prod": {"kind": "prefix", "prefix": "prod.", "require_approval": True},
}


def test_an_approval_to_copy_into_prod_reaches_the_owning_team_and_links_to_a_page(  # type: ignore[no-untyped-def]
    mlflow, personas, settings, login
):
    """The request is for model 'prod:prod.<name>', which no team rule matches: the leads who must decide
    were not told (nobody was, but NOTIFY_EMAILS), nor of the decision, and the link back was the version
    page of a model that cannot exist (a name with ':')."""
    configure(PREFIXES)
    settings.SITE_URL, settings.NOTIFY_EMAILS, settings.NOTIFY_WEBHOOK_URL = "http://s.test", [], ""
    base = f"search-envnote-{uuid.uuid4().hex[:8]}"
    version = make_version(mlflow, f"dev.{base}", score=0.4)
    lead, member = personas["lead_search"], personas["member_search"]
    req = environment_approval_request(actor=member, source_env="dev", model=base, version=version)
    asked = Notification.objects.filter(event="approval.requested")
    assert "lead_search@example.com" in {n.recipient for n in asked}
    assert {n.team for n in asked} == {"search"}
    link = asked.first().link  # type: ignore[union-attr]
    assert link.startswith("http://s.test/")
    assert login("lead_search").get(link.removeprefix("http://s.test")).status_code == 200, link

    approvals.approval_request_approve(actor=lead, request_id=req.pk, comment="ok for prod")
    decided = Notification.objects.filter(event="approval.decided")
    assert {"lead_search_2@example.com", "member_search@example.com"} <= {n.recipient for n in decided}


def test_a_copy_into_the_next_environment_is_told_like_a_promotion(  # type: ignore[no-untyped-def]
    mlflow, personas, settings, login, monkeypatch
):
    """'Promote to prod' (a governed copy: gate, approval, audit) told nobody, done or failed part-way."""
    configure({**PREFIXES, "prod": {**PREFIXES["prod"], "require_approval": False}})
    settings.SITE_URL, settings.NOTIFY_EMAILS, settings.NOTIFY_WEBHOOK_URL = "http://s.test", [], ""
    base = f"search-envcopy-{uuid.uuid4().hex[:8]}"
    version = make_version(mlflow, f"dev.{base}", score=0.4)
    lead = personas["lead_search"]
    environments.promote_to_next(actor=lead, source_env="dev", model=base, version=version)
    done = Notification.objects.filter(event="model.environment_promoted")
    assert {n.recipient for n in done if n.channel == "email"} == {"lead_search_2@example.com"}  # not the actor
    row = done.first()
    assert row is not None and row.subject == f"prod.{base}: v1 copied into prod"
    assert f"copied dev:dev.{base} v{version} into prod as prod.{base} v1" in row.lines[0]
    assert login("lead_search_2").get(row.link.removeprefix("http://s.test")).status_code == 200, row.link

    second = make_version(mlflow, f"dev.{base}", score=0.5)

    def refused(*args: object, **kwargs: object) -> None:
        raise MlflowUnavailable("injected: the source did not answer", operation="set version tag")

    monkeypatch.setattr(EnvironmentHandle, "set_version_tag", refused)  # the last step, lineage on the source
    with pytest.raises(environments.PromotionCopyFailed):
        environments.promote_to_next(actor=lead, source_env="dev", model=base, version=second)
    failed = Notification.objects.get(event="model.environment_copy_failed", channel="email")
    assert failed.recipient == "lead_search_2@example.com"
    assert "injected: the source did not answer" in failed.lines[0]
