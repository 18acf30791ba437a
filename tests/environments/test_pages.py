"""Issue 22, pages: "Promote to <next environment>" on a version page with a confirm step (target server,
the target's gate verdict), the approval for the NEXT environment requested and decided per environment,
refusals shown inline, and one story across environments on the pages and in the audit export."""

from __future__ import annotations

import html
import json
import re
import uuid

import pytest

from mlopsadmin.core.models import AuditEvent
from registry_ui.environments import services
from registry_ui.models import ApprovalRequest
from registry_ui.promotion.services import alias_change
from tests.faults import FaultProxy

from .helpers import configure, make_version, models_named, versions_on

pytestmark = pytest.mark.django_db
PREFIXES = {
    "dev": {"kind": "prefix", "prefix": "dev.", "next": "prod"},
    "prod": {"kind": "prefix", "prefix": "prod.", "require_approval": True},
}


def _text(response) -> str:  # type: ignore[no-untyped-def]
    """What a person reads on the page (tags removed, spaces collapsed)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def test_promote_page_with_approval_for_the_next_environment_and_one_story(  # type: ignore[no-untyped-def]
    mlflow, login, personas
) -> None:
    configure(PREFIXES)
    base = f"search-page-{uuid.uuid4().hex[:8]}"
    make_version(mlflow, f"dev.{base}", score=0.1)
    version = make_version(mlflow, f"dev.{base}", score=0.2)
    page_url = f"/registry/models/dev.{base}/versions/{version}/"
    confirm_url = f"/registry/models/dev.{base}/versions/{version}/promote"

    lead = login("lead_search")
    page = lead.get(page_url)
    assert "Promote to prod" in _text(page) and f'href="{confirm_url}"' in page.content.decode()

    confirm = _text(lead.get(confirm_url))
    assert f"prod.{base}" in confirm and mlflow in confirm  # target model and server
    assert "Gate of prod: failed" in confirm
    assert f"prod requires an approval of v{version} for prod (none approved)" in confirm
    assert "Request approval for prod" in confirm

    # refused at the POST too (a stale page): inline, 422, nothing created in prod
    refused = lead.post(confirm_url)
    assert refused.status_code == 422
    assert "none approved" in _text(refused) and 'role="alert"' in refused.content.decode()
    assert models_named(mlflow, f"prod.{base}") == []

    # a member asks for prod's approval; another person (the lead) decides it in the inbox
    member = login("member_search")
    asked = member.post(f"{confirm_url}/request", {"comment": "passed the dev soak"})
    assert asked.status_code == 302, _text(asked)
    req = ApprovalRequest.objects.get(model_name=f"prod:prod.{base}", version=version)
    assert req.state == "pending" and req.team == "search"
    again = member.post(f"{confirm_url}/request")
    assert again.status_code == 409 and "already has a pending approval request" in _text(again)
    lead = login("lead_search")
    decided = lead.post(f"/registry/requests/{req.pk}/decide", {"decision": "approve"})
    assert decided.status_code == 302 and decided["Location"] == "/registry/inbox/"
    dev_tags = next(v["tags"] for v in versions_on(mlflow, f"dev.{base}") if v["version"] == version)
    assert "approved_by" not in dev_tags  # a prod approval is not a dev approval

    confirm = _text(lead.get(confirm_url))
    assert "Gate of prod: passed" in confirm and "approved" in confirm
    done = lead.post(confirm_url)
    assert done.status_code == 302 and done["Location"] == page_url
    copied = versions_on(mlflow, f"prod.{base}")
    assert [v["version"] for v in copied] == ["1"]
    assert copied[0]["tags"]["approved_by"] == "lead_search"  # prod's own approval, on the prod version
    assert f"Copied dev.{base} v{version} from dev to prod: prod.{base} v1" in _text(lead.get(page_url))
    twice = lead.get(confirm_url)  # copied once: said before the click, and refused at a second POST
    assert f"v{version} is already in prod as prod.{base} v1" in _text(twice)
    assert 'data-confirm="env-promote" disabled' in twice.content.decode()
    second = lead.post(confirm_url)
    assert second.status_code == 409 and "is already in prod" in _text(second)

    alias_change(
        action="promote",
        model_name=f"prod.{base}",
        actor=personas["admin"],
        version="1",
        override_reason="story test: no gate metric on the tiny model",
    )
    story = _text(login("auditor").get(f"/registry/models/prod.{base}/versions/1/"))
    copied_line = f"copied from dev v{version} → prod v1"
    assert copied_line in story and f"@champion → v1 in prod (copied from dev v{version})" in story
    assert "approval for prod: request" in story and "approval for prod: approve" in story
    assert story.index("approval for prod: approve") < story.index(copied_line) < story.index("@champion → v1")
    model_page = login("auditor").get(f"/registry/models/prod.{base}/")
    assert copied_line in _text(model_page)
    side_url = f"/registry/models/prod.{base}/environments/"
    assert f'hx-get="{side_url}"' in model_page.content.decode()
    side = login("auditor").get(side_url, headers={"HX-Request": "true"})
    assert side.status_code == 200 and "<html" not in side.content.decode()  # the fragment htmx swaps in
    text = _text(side)
    assert f"prod.{base}" in text and f"dev.{base}" in text
    assert f"v1 copied from dev v{version}" in text and f"up to date (last received v{version})" in text
    assert f'href="/registry/models/prod.{base}/aliases/"' in side.content.decode()  # rollback as today

    audit_page = login("auditor").get(f"/audit/?story={base}")
    assert audit_page.status_code == 200 and "environment.promote" in _text(audit_page)
    export = login("auditor").get(f"/audit/export.jsonl?story={base}")
    rows = [json.loads(line) for line in b"".join(export.streaming_content).decode().splitlines()]
    actions = [row["action"] for row in reversed(rows)]  # the export is newest first
    # refused by prod's gate, approval asked and given for prod, copy started, copied, then @champion in prod
    assert actions[:5] == [
        "environment.promote",
        "approval.request",
        "approval.approve",
        "environment.copy",
        "environment.promote",
    ]
    assert [row["outcome"] for row in reversed(rows)][:5] == ["failed", "ok", "ok", "pending", "ok"]
    assert actions[-1].startswith("model.promote"), actions
    assert all(base in row["target_id"] for row in rows)


def test_copy_failure_part_way_is_shown_inline(dev_mlflow, mlflow, login) -> None:  # type: ignore[no-untyped-def]
    """dev is the default server, prod a second real server behind a proxy that loses the answer of the
    registration (MLflow commits it): the page says where it stopped and that prod holds nothing."""
    base = f"search-fail-{uuid.uuid4().hex[:8]}"
    version = make_version(mlflow, base, score=0.3)
    confirm_url = f"/registry/models/{base}/versions/{version}/promote"
    with FaultProxy(dev_mlflow.url) as prod:
        prod.write_path, prod.drop_after_writes = "/model-versions/create", 1
        configure(
            {
                "dev": {"kind": "server", "tracking_uri": mlflow, "next": "prod"},
                "prod": {"kind": "server", "tracking_uri": prod.url},
            }
        )
        lead = login("lead_search")
        assert "Promote to prod" in _text(lead.get(f"/registry/models/{base}/versions/{version}/"))
        confirm = _text(lead.get(confirm_url))
        assert "Gate of prod: passed" in confirm and prod.url in confirm
        assert "download the artifacts" in confirm
        failed = lead.post(confirm_url)
        missing = lead.get(f"/registry/models/{base}/versions/99/promote")
    assert failed.status_code == 503, _text(failed)
    text = _text(failed)
    assert "Stopped at step register" in text and "prod holds nothing of this copy" in text
    assert models_named(dev_mlflow.url, base) == []
    event = AuditEvent.objects.filter(action=services.AUDIT_ACTION).latest("id")
    assert event.outcome == "failed" and event.after["left_in_target"] == []

    assert missing.status_code == 200 and f"{base} v99 does not exist in dev" in _text(missing)
    assert 'data-confirm="env-promote" disabled' in missing.content.decode()
    gone = lead.get(confirm_url)  # prod's address answers no more: said on the page, no copy offered
    assert "Gate of prod: unknown" in _text(gone) and "could not be evaluated" in _text(gone)
    assert 'data-confirm="env-promote" disabled' in gone.content.decode()


def _promote_form_fields(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The hidden fields the confirm page's "Confirm: copy" form posts."""
    page = response.content.decode()
    start = page.index('class="env-promote-form"')
    return dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page[start : page.index("</form>", start)])
    )


def test_a_confirm_page_shown_before_the_path_changed_copies_nowhere_else(mlflow, login) -> None:  # type: ignore[no-untyped-def]
    """The lead opens "Promote to staging"; meanwhile the configuration sends dev's versions to prod. The
    confirmed form copies to no environment the person did not see: 409, said inline, nothing copied."""
    chain = {
        "dev": {"kind": "prefix", "prefix": "dev.", "next": "staging"},
        "staging": {"kind": "prefix", "prefix": "staging.", "next": "prod"},
        "prod": {"kind": "prefix", "prefix": "prod."},
    }
    configure(chain)
    base = f"search-stale-{uuid.uuid4().hex[:8]}"
    version = make_version(mlflow, f"dev.{base}", score=0.3)
    confirm_url = f"/registry/models/dev.{base}/versions/{version}/promote"
    lead = login("lead_search")
    shown = lead.get(confirm_url).content.decode()
    form = shown[
        shown.index('class="env-promote-form"') : shown.index("</form>", shown.index('class="env-promote-form"'))
    ]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    assert "Promote to staging" in shown

    configure({"dev": {**chain["dev"], "next": "prod"}, "prod": chain["prod"]})  # staging is taken out
    stale = lead.post(confirm_url, fields)
    assert stale.status_code == 409, _text(stale)
    assert "was shown for staging" in _text(stale) and "now goes to prod" in _text(stale)
    api = f"/api/v1/environments/dev/models/{base}/promote"  # a CI job that names its target: the same
    pinned = lead.post(api, data={"version": version, "target": "staging"}, content_type="application/json")
    assert pinned.status_code == 409 and "now goes to prod" in pinned.json()["detail"]
    assert models_named(mlflow, f"prod.{base}") == [] and models_named(mlflow, f"staging.{base}") == []
    fresh = lead.get(confirm_url)  # the page shown now names prod, and its form copies there
    done = lead.post(confirm_url, _promote_form_fields(fresh))
    assert done.status_code == 302, _text(done)
    assert [v["version"] for v in versions_on(mlflow, f"prod.{base}")] == ["1"]
