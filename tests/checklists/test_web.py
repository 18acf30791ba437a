"""Pages, the JSON API and the beat tasks of the checklists feature."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse

from checklists import services
from checklists.models import ChecklistDefinition, ChecklistInstance, LatencySample
from mlopsadmin.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_index_shows_current_checklists_and_operator_creates_them(login, mlflow: str) -> None:  # type: ignore[no-untyped-def]
    client = login("operator")
    page = client.get(reverse("checklists:index"))
    assert page.status_code == 200 and b"No checklist instances yet" in page.content
    response = client.post(reverse("checklists:ensure"))
    assert response.status_code == 302
    page = client.get(reverse("checklists:index")).content.decode()
    assert "Weekly" in page and "Monthly" in page and "Initial setup" in page
    assert ChecklistInstance.objects.count() == 3


def test_auditor_reads_but_cannot_change(login, weekly: ChecklistInstance) -> None:  # type: ignore[no-untyped-def]
    client = login("auditor")
    page = client.get(reverse("checklists:instance", args=[weekly.pk]))
    assert page.status_code == 200 and b"Re-run probes" not in page.content
    assert client.post(reverse("checklists:ensure")).status_code == 403
    assert client.post(reverse("checklists:probes", args=[weekly.pk])).status_code == 403
    assert client.post(reverse("checklists:sign_off", args=[weekly.pk])).status_code == 403
    assert not AuditEvent.objects.filter(action__startswith="checklist.probe").exists()


def test_instance_page_tick_via_htmx_and_sign_off(login, monthly: ChecklistInstance) -> None:  # type: ignore[no-untyped-def]
    client = login("operator")
    page = client.get(reverse("checklists:instance", args=[monthly.pk])).content.decode()
    assert "Backup/recovery procedure tested" in page and "automatic" in page and "manual" in page
    assert 'hx-post="' + reverse("checklists:tick", args=[monthly.pk, "backup_restore"]) in page

    response = client.post(reverse("checklists:probes", args=[monthly.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Location"].endswith(f"/checklists/{monthly.pk}/")
    page = client.get(reverse("checklists:instance", args=[monthly.pk])).content.decode()
    assert "Versions match" in page

    fragment = client.post(
        reverse("checklists:tick", args=[monthly.pk, "backup_restore"]),
        {"outcome": "pass", "note": "restore drill OK", "evidence_link": ""},
        HTTP_HX_REQUEST="true",
    )
    assert fragment.status_code == 200
    body = fragment.content.decode()
    assert 'id="item-backup_restore"' in body and "restore drill OK" in body and "<html" not in body
    assert 'hx-swap-oob="true"' in body  # status counts updated in the same response

    bad = client.post(
        reverse("checklists:tick", args=[monthly.pk, "db_performance"]), {"note": ""}, HTTP_HX_REQUEST="true"
    )
    assert bad.status_code == 400 and bad["HX-Retarget"] == "#messages"

    for key in ("storage_cost_lifecycle", "db_performance", "unused_models"):
        client.post(reverse("checklists:tick", args=[monthly.pk, key]), {"outcome": "pass", "note": "done"})
    assert client.post(reverse("checklists:sign_off", args=[monthly.pk]), {"note": ""}).status_code == 302
    page = client.get(reverse("checklists:instance", args=[monthly.pk])).content.decode()
    assert "Signed off" in page and "frozen" in page and "tick-form" not in page

    refused = client.post(reverse("checklists:tick", args=[monthly.pk, "backup_restore"]), {"note": "late"})
    assert refused.status_code == 409
    assert "signed off by operator" in refused.content.decode() and "nothing was changed" in refused.content.decode()


def test_unknown_instance_is_404(login, db: None) -> None:  # type: ignore[no-untyped-def]
    client = login("operator")
    assert client.get(reverse("checklists:instance", args=[999999])).status_code == 404
    assert client.post(reverse("checklists:tick", args=[999999, "x"]), {"note": "n"}).status_code == 404


def test_admin_edits_definition_in_the_ui(login, mlflow: str) -> None:  # type: ignore[no-untyped-def]
    services.definitions_sync()
    client = login("operator")
    assert client.get(reverse("checklists:definition_edit", args=["weekly"])).status_code == 403
    client = login("admin")
    page = client.get(reverse("checklists:definition_edit", args=["weekly"]))
    assert page.status_code == 200 and b"Save as new version" in page.content
    current = services.latest_definition("weekly")
    data: dict[str, Any] = {"expected_version": str(current.version), "note": "clearer wording", "key": []}
    for item in current.items.all():
        data["key"].append(item.key)
        data[f"text_{item.key}"] = item.text.upper() if item.key == "db_disk_usage" else item.text
        data[f"position_{item.key}"] = str(item.position)
    assert client.post(reverse("checklists:definition_edit", args=["weekly"]), data).status_code == 302
    assert services.latest_definition("weekly").items.get(key="db_disk_usage").text == "DB DISK USAGE CHECKED"
    history = client.get(reverse("checklists:definitions")).content.decode()
    assert "version 2" in history and "version 1" in history
    data["position_stuck_runs"] = "x"
    assert client.post(reverse("checklists:definition_edit", args=["weekly"]), data).status_code == 302
    assert ChecklistDefinition.objects.filter(kind="weekly").count() == 2
    assert client.get(reverse("checklists:definition_edit", args=["nope"])).status_code == 404


def test_home_page_has_the_checklists_tile(login, weekly: ChecklistInstance) -> None:  # type: ignore[no-untyped-def]
    page = login("operator").get(reverse("home")).content.decode()
    assert "Checklists" in page and reverse("checklists:index") in page


# --- API -------------------------------------------------------------------------------------
def test_api_read_tick_and_sign_off(login, monthly: ChecklistInstance) -> None:  # type: ignore[no-untyped-def]
    client = login("operator")
    current = client.get("/api/v1/checklists/current").json()
    assert [c["kind"] for c in current] == ["monthly"]
    assert {i["key"]: i["status"] for i in current[0]["items"]}["backup_restore"] == "pending"

    url = f"/api/v1/checklists/instances/{monthly.pk}"
    for key in ("storage_cost_lifecycle", "db_performance", "unused_models", "backup_restore"):
        response = client.post(
            f"{url}/items/{key}/tick", json.dumps({"note": "api tick"}), content_type="application/json"
        )
        assert response.status_code == 200 and response.json()["status"] == "pass"
    assert client.post(
        f"{url}/items/backup_restore/tick", json.dumps({"note": ""}), content_type="application/json"
    ).status_code in (400, 422)
    assert (
        client.post(
            f"{url}/items/mlflow_version/tick", json.dumps({"note": "x"}), content_type="application/json"
        ).status_code
        == 422
    )
    probes = client.post(f"{url}/probes")
    assert probes.status_code == 200 and "mlflow_version" in probes.json()["changed"]
    signed = client.post(f"{url}/sign-off", json.dumps({"note": "ok"}), content_type="application/json")
    assert signed.status_code == 200 and signed.json()["signed_off"] is True
    again = client.post(
        f"{url}/items/backup_restore/tick", json.dumps({"note": "late"}), content_type="application/json"
    )
    assert again.status_code == 409 and "frozen" in again.json()["detail"]
    assert client.post(f"{url}/sign-off", json.dumps({}), content_type="application/json").status_code == 409
    assert client.get(url).json()["signed_off_by"] == "operator"
    assert client.get("/api/v1/checklists/instances/999999").status_code == 404


def test_api_refuses_auditor(login, monthly: ChecklistInstance) -> None:  # type: ignore[no-untyped-def]
    client = login("auditor")
    assert client.get("/api/v1/checklists/current").status_code == 200
    response = client.post(
        f"/api/v1/checklists/instances/{monthly.pk}/items/backup_restore/tick",
        json.dumps({"note": "x"}),
        content_type="application/json",
    )
    assert response.status_code == 403


# --- Tasks and schedule ------------------------------------------------------------------------
def test_beat_tasks_exist_and_work(mlflow: str, settings) -> None:  # type: ignore[no-untyped-def]
    from mlopsadmin.celery import app
    from mlopsadmin.schedules import ENTRIES

    app.loader.import_default_modules()
    names = {e.key: e.task for e in ENTRIES}
    assert names["latency_probe"] == "checklists.tasks.latency_probe_scheduled"
    assert names["checklist_instances"] == "checklists.tasks.checklist_instances_scheduled"
    assert {names["latency_probe"], names["checklist_instances"]} <= set(app.tasks)

    from checklists.tasks import checklist_instances_scheduled, latency_probe_scheduled

    assert latency_probe_scheduled.apply().get()["samples"] == 3
    assert LatencySample.objects.count() == 3
    first = checklist_instances_scheduled.apply().get()
    second = checklist_instances_scheduled.apply().get()
    assert first["instances"] == second["instances"] and len(first["instances"]) == 3
    assert ChecklistInstance.objects.count() == 3
    weekly = ChecklistInstance.objects.get(kind="weekly")
    assert weekly.items.get(key="stuck_runs").measured_at is not None


def test_a_get_of_the_definition_editor_writes_nothing(login, db: None) -> None:  # type: ignore[no-untyped-def]
    ChecklistDefinition.objects.all().delete()  # a database whose definitions were never loaded
    events = AuditEvent.objects.count()
    page = login("admin").get(reverse("checklists:definition_edit", args=["weekly"]))
    assert page.status_code == 200 and b"checklist_definitions_sync" in page.content
    assert not ChecklistDefinition.objects.exists() and AuditEvent.objects.count() == events
    call_command("checklist_definitions_sync", stdout=io.StringIO())
    assert {d.kind for d in ChecklistDefinition.objects.all()} == {"initial", "weekly", "monthly"}
