"""Issue 22: "a failure part-way leaves no half-registered version (or marks it and offers cleanup)". Here
prod stops answering right after it committed the registration, so the copy cannot clean up at once: the
page says what is unknown, then, with prod back, shows what the failed copy left and cleans it up."""

from __future__ import annotations

import html
import re
import threading
import time
import uuid
from typing import Any

import pytest

from mlopsadmin.core.models import AuditEvent
from tests.faults import FaultProxy

from .helpers import configure, make_version, models_named, versions_on

pytestmark = pytest.mark.django_db(transaction=True)  # the click runs in a thread of its own


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def test_what_a_failed_copy_left_is_shown_and_cleaned_up(dev_mlflow, mlflow, login, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MLFLOW_REQUEST_TIMEOUT, settings.MLFLOW_REQUEST_MAX_RETRIES = 2, 0
    base = f"search-left-{uuid.uuid4().hex[:8]}"
    version = make_version(mlflow, base, score=0.5)
    confirm_url = f"/registry/models/{base}/versions/{version}/promote"
    lead = login("lead_search")
    with FaultProxy(dev_mlflow.url) as prod:
        configure(
            {
                "dev": {"kind": "server", "tracking_uri": mlflow, "next": "prod"},
                "prod": {"kind": "server", "tracking_uri": prod.url},
            }
        )
        prod.write_path, prod.freeze_after_writes = "/model-versions/create", 1
        answers: list[Any] = []
        click = threading.Thread(target=lambda: answers.append(lead.post(confirm_url)))
        click.start()
        deadline = time.monotonic() + 120
        while not prod.frozen and time.monotonic() < deadline:  # the registration is committed in prod
            time.sleep(0.05)
        dev_mlflow.stop()  # ... and prod goes down before it answers: the copy cannot clean up
        click.join(timeout=120)
        prod.thaw()  # what the copy sent meanwhile reaches no server
        dev_mlflow.start()
        failed = answers[0]
        assert failed.status_code == 503, _text(failed)
        assert "Still in prod: unknown: the target could not be read back" in _text(failed)
        assert [v["version"] for v in versions_on(dev_mlflow.url, base)] == ["1"]  # committed, half-done

        shown = lead.get(confirm_url)
        text = _text(shown)
        assert "A copy of v1 that failed earlier left this in prod" in text and f"{base} v1" in text
        assert "is already in prod" not in text  # a leftover is no copy
        cleaned = lead.post(f"{confirm_url}/cleanup")
        assert cleaned.status_code == 302, _text(cleaned)
        after = _text(lead.get(confirm_url))
        assert f"Cleaned up in prod: version {base} v1" in after and "left this in prod" not in after
        assert models_named(dev_mlflow.url, base) == []  # the model the copy created is gone too
        event = AuditEvent.objects.filter(action="environment.cleanup").latest("id")
        assert event.outcome == "ok" and event.after["left_in_target"] == []

        done = lead.post(confirm_url)
    assert done.status_code == 302, _text(done)
    assert [v["version"] for v in versions_on(dev_mlflow.url, base)] == ["1"]
