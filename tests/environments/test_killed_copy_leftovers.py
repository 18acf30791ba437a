"""Issue 22 (break-test, what a killed copy leaves): a copy killed (a worker's timeout, SIGKILL: no
except-block runs) between creating the target model and registering the version leaves an EMPTY model
there; one killed after writing the "copied to" tag on the source version leaves that tag naming a version
the clean-up then removes. The clean-up after the grace period removes the empty model (only one this copy
created, only while it has no versions) and the source's tag. The kill is a SystemExit at that point; the
started `environment.copy` event is part of the model's story across environments."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from mlopsadmin.core.models import AuditEvent
from mlopsadmin.lib.mlflow_environments import EnvironmentHandle
from registry_ui.environments import cleanup, history
from registry_ui.environments.copy import TO_TAG_PREFIX

from .helpers import configure, make_version, models_named, versions_on

pytestmark = pytest.mark.django_db(transaction=True)


def _kill_at(monkeypatch: Any, method: str, *, after_real_call: bool) -> None:
    real = getattr(EnvironmentHandle, method)

    def killed(self: EnvironmentHandle, *args: Any, **kwargs: Any) -> Any:
        if after_real_call:
            real(self, *args, **kwargs)
        raise SystemExit("worker timeout")

    monkeypatch.setattr(EnvironmentHandle, method, killed)


def _promote_killed(dev_mlflow, mlflow, login, monkeypatch, method: str, *, after: bool):  # type: ignore[no-untyped-def]
    base = f"search-kill-{uuid.uuid4().hex[:8]}"
    make_version(mlflow, base, score=0.5)
    configure(
        {
            "dev": {"kind": "server", "tracking_uri": mlflow, "next": "prod"},
            "prod": {"kind": "server", "tracking_uri": dev_mlflow.url},
        }
    )
    lead = login("lead_search")
    url = f"/registry/models/{base}/versions/1/promote"
    _kill_at(monkeypatch, method, after_real_call=after)
    with pytest.raises(SystemExit):
        lead.post(url, {"target": "prod"})
    monkeypatch.undo()
    return lead, base, url


def test_a_copy_killed_before_registering_leaves_no_empty_model(  # type: ignore[no-untyped-def]
    dev_mlflow, mlflow, login, settings, monkeypatch
) -> None:
    settings.PROMOTION_LOCK_TTL_SECONDS, settings.WEB_TIMEOUT_SECONDS = 2, 1
    lead, base, url = _promote_killed(dev_mlflow, mlflow, login, monkeypatch, "create_version", after=False)
    assert models_named(dev_mlflow.url, base) == [base] and versions_on(dev_mlflow.url, base) == []
    time.sleep(4.5)
    cleaned = lead.post(f"{url}/cleanup", {"target": "prod"})
    assert cleaned.status_code == 302, cleaned.content
    assert models_named(dev_mlflow.url, base) == []  # the empty model the killed copy created is gone
    event = AuditEvent.objects.filter(action="environment.cleanup").latest("id")
    assert f"model {base}" in event.after["removed"] and event.outcome == "ok"


def test_a_model_that_was_there_before_is_kept_by_the_clean_up(  # type: ignore[no-untyped-def]
    dev_mlflow, mlflow, login, settings, monkeypatch
) -> None:
    settings.PROMOTION_LOCK_TTL_SECONDS, settings.WEB_TIMEOUT_SECONDS = 2, 1
    base = f"search-kept-{uuid.uuid4().hex[:8]}"
    make_version(dev_mlflow.url, base, score=0.1)  # prod already holds the model, with a version of its own
    source_version = make_version(mlflow, base, score=0.5)
    configure(
        {
            "dev": {"kind": "server", "tracking_uri": mlflow, "next": "prod"},
            "prod": {"kind": "server", "tracking_uri": dev_mlflow.url},
        }
    )
    lead = login("lead_search")
    url = f"/registry/models/{base}/versions/{source_version}/promote"
    _kill_at(monkeypatch, "create_version", after_real_call=False)
    with pytest.raises(SystemExit):
        lead.post(url, {"target": "prod"})
    monkeypatch.undo()
    time.sleep(4.5)
    assert lead.post(f"{url}/cleanup", {"target": "prod"}).status_code == 302
    assert models_named(dev_mlflow.url, base) == [base]
    assert [v["version"] for v in versions_on(dev_mlflow.url, base)] == ["1"]


def test_a_copy_killed_after_tagging_the_source_loses_the_tag_on_clean_up(  # type: ignore[no-untyped-def]
    dev_mlflow, mlflow, login, settings, monkeypatch
) -> None:
    settings.PROMOTION_LOCK_TTL_SECONDS, settings.WEB_TIMEOUT_SECONDS = 2, 1
    lead, base, url = _promote_killed(dev_mlflow, mlflow, login, monkeypatch, "set_version_tag", after=True)
    assert versions_on(mlflow, base)[0]["tags"][TO_TAG_PREFIX + "prod"] == f"{base} v1"
    time.sleep(4.5)
    assert lead.post(f"{url}/cleanup", {"target": "prod"}).status_code == 302
    assert versions_on(dev_mlflow.url, base) == []
    assert TO_TAG_PREFIX + "prod" not in versions_on(mlflow, base)[0]["tags"]  # no "copied to" a removed version
    done = lead.post(url, {"target": "prod"})  # copied again: the tag names the new copy
    assert done.status_code == 302
    assert versions_on(mlflow, base)[0]["tags"][TO_TAG_PREFIX + "prod"] == f"{base} v1"


PREFIXES = {
    "dev": {"kind": "prefix", "prefix": "dev.", "next": "prod"},
    "prod": {"kind": "prefix", "prefix": "prod.", "require_approval": False},
}


def test_a_started_copy_is_part_of_the_story(mlflow, login, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    configure(PREFIXES)
    base = f"search-story-{uuid.uuid4().hex[:8]}"
    make_version(mlflow, f"dev.{base}", score=0.3)
    lead = login("lead_search")
    _kill_at(monkeypatch, "copy_version", after_real_call=False)
    with pytest.raises(SystemExit):
        lead.post(f"/registry/models/dev.{base}/versions/1/promote", {"target": "prod"})
    monkeypatch.undo()
    export = login("auditor").get(f"/audit/export.jsonl?story={base}")
    rows = [json.loads(line) for line in b"".join(export.streaming_content).decode().splitlines()]
    assert [(r["action"], r["outcome"]) for r in rows] == [(cleanup.STARTED_ACTION, "pending")]
    items = history.model_story(base)
    assert [i.kind for i in items] == ["copy-started"] and "dev v1 → prod" in items[0].text, items


def test_the_api_takes_a_name_given_with_its_environment_prefix(mlflow, login) -> None:  # type: ignore[no-untyped-def]
    configure(PREFIXES)
    base = f"search-given-{uuid.uuid4().hex[:8]}"
    make_version(mlflow, f"dev.{base}", score=0.3)
    admin = login("admin")
    url = f"/api/v1/environments/dev/models/dev.{base}/promote"
    done = admin.post(url, data={"version": "1"}, content_type="application/json")
    assert done.status_code in (200, 202), done.content
    assert "dev.dev." not in done.content.decode()


def test_side_by_side_takes_a_name_given_with_its_environment_prefix(mlflow, login) -> None:  # type: ignore[no-untyped-def]
    """The CI job that promoted `dev.<m>` (accepted by the promote API) asks where it is: the side-by-side
    API read `dev.dev.<m>` and `prod.dev.<m>` and said the model was nowhere."""
    configure(PREFIXES)
    base = f"search-where-{uuid.uuid4().hex[:8]}"
    make_version(mlflow, f"dev.{base}", score=0.3)
    admin = login("admin")
    copied = admin.post(
        f"/api/v1/environments/dev/models/dev.{base}/promote", data={"version": "1"}, content_type="application/json"
    )
    assert copied.status_code == 200, copied.content
    for given in (f"dev.{base}", f"prod.{base}", base):
        rows = {r["environment"]: r for r in admin.get(f"/api/v1/environments/models/{given}").json()}
        assert (rows["dev"]["model"], rows["dev"]["latest"]) == (f"dev.{base}", "1"), (given, rows)
        assert (rows["prod"]["model"], rows["prod"]["latest"], rows["prod"]["received"]) == (f"prod.{base}", "1", "1")


def test_the_story_of_a_model_named_as_it_is_in_an_environment_is_the_same_story(  # type: ignore[no-untyped-def]
    mlflow, login
) -> None:
    """An auditor looking at prod.<m> asks the audit log for its story: `?story=prod.<m>` left out the
    copies (kept under the base name) and told only prod's own alias moves."""
    configure(PREFIXES)
    base = f"search-named-{uuid.uuid4().hex[:8]}"
    make_version(mlflow, f"dev.{base}", score=0.3)
    admin = login("admin")
    url = f"/api/v1/environments/dev/models/{base}/promote"
    assert admin.post(url, data={"version": "1"}, content_type="application/json").status_code == 200

    def story(name: str) -> list[tuple[str, str]]:
        export = login("auditor").get(f"/audit/export.jsonl?story={name}")
        rows = [json.loads(line) for line in b"".join(export.streaming_content).decode().splitlines()]
        return [(r["action"], r["outcome"]) for r in rows]

    whole = story(base)
    assert ("environment.promote", "ok") in whole
    assert story(f"prod.{base}") == story(f"dev.{base}") == whole
