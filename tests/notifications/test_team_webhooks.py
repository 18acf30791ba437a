"""Per-team webhooks in the admin: managed by whoever holds the Admin role (the policy, not Django's model
permissions), every add, change and delete audited with the webhook's host only (for Slack the URL path is
the secret); never shown back on a page, in the audit log or its exports; only http(s) addresses."""

from __future__ import annotations

from django.urls import reverse

from mlopsadmin.core.models import AuditEvent, Team
from notifications.models import TeamWebhook

SECRET = "T0ADMIN/B0ADMIN/adminsecret0123456789"
URL = f"https://hooks.example.com/services/{SECRET}"
ADD = "/admin/notifications/teamwebhook/add/"


def _everything_an_admin_reads(client, hook: TeamWebhook) -> str:  # type: ignore[no-untyped-def]
    pages = [
        "/admin/notifications/teamwebhook/",
        f"/admin/notifications/teamwebhook/{hook.pk}/change/",
        f"/admin/notifications/teamwebhook/{hook.pk}/history/",
        reverse("audit:index"),
        reverse("audit:export_csv"),
        reverse("audit:export_jsonl"),
    ]
    texts = []
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        texts.append(b"".join(response.streaming_content) if response.streaming else response.content)
    return b"\n".join(texts).decode()


def test_an_admin_manages_team_webhooks_audited_without_the_secret(login, personas) -> None:  # type: ignore[no-untyped-def]
    client = login("admin")  # the Admin role, not a Django superuser
    search = Team.objects.get(name="search")
    assert client.get("/admin/").status_code == 200
    assert b"Team webhooks" in client.get("/admin/").content
    response = client.post(ADD, {"team": search.pk, "url": URL, "enabled": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    hook = TeamWebhook.objects.get(team=search)
    assert hook.url == URL
    created = AuditEvent.objects.get(action="team_webhook.create")
    assert created.actor_name == "admin" and created.after["url"] == "https://hooks.example.com/…"

    change = f"/admin/notifications/teamwebhook/{hook.pk}/change/"
    assert client.post(change, {"team": search.pk, "url": ""}).status_code == 302  # empty: keep it; disable
    hook.refresh_from_db()
    assert hook.url == URL and not hook.enabled
    updated = AuditEvent.objects.get(action="team_webhook.update")
    assert (updated.before["enabled"], updated.after["enabled"]) == (True, False)

    assert SECRET not in _everything_an_admin_reads(client, hook)
    assert client.post(f"/admin/notifications/teamwebhook/{hook.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not TeamWebhook.objects.exists()
    assert AuditEvent.objects.filter(action="team_webhook.delete").count() == 1
    assert not [e for e in AuditEvent.objects.all() if SECRET in str(e.before) + str(e.after) + e.reason]


def test_a_webhook_that_is_not_http_is_refused_on_the_form(login, personas) -> None:  # type: ignore[no-untyped-def]
    client = login("admin")
    search = Team.objects.get(name="search")
    response = client.post(ADD, {"team": search.pk, "url": f"ftp://hooks.example.com/{SECRET}", "enabled": "on"})
    assert response.status_code == 200 and "http" in response.content.decode()
    assert SECRET not in response.content.decode()  # the refused value is not shown back either
    assert not TeamWebhook.objects.exists() and not AuditEvent.objects.filter(action__startswith="team_webhook")


def test_only_admins_reach_team_webhooks(login, personas) -> None:  # type: ignore[no-untyped-def]
    for user in ("operator", "lead_search", "auditor"):
        response = login(user).get("/admin/notifications/teamwebhook/")
        assert response.status_code in (302, 403), user
