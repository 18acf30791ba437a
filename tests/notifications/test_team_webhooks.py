"""Per-team webhooks in the admin: managed by whoever holds the Admin role (the policy, not Django's model
permissions), every add, change and delete audited with the webhook's host only (for Slack the URL path is
the secret); never shown back on a page, in the audit log or its exports; only http(s) addresses."""

from __future__ import annotations

from django.urls import reverse

from mlopsadmin.core.models import AuditEvent, Team
from notifications.models import Notification, TeamWebhook

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


def test_the_webhook_list_cannot_be_searched_by_its_secret_url(login, personas) -> None:  # type: ignore[no-untyped-def]
    """The admin's list accepts lookups on a model's own fields in its query string: `?url__startswith=`
    told an admin (or a stolen admin session) whether a guess of the secret path was right, one character
    at a time. Lookups on the URL are refused; the other filters keep working."""
    client = login("admin")
    TeamWebhook.objects.create(team=Team.objects.get(name="search"), url=URL)
    base = "/admin/notifications/teamwebhook/"
    right, wrong = client.get(base + "?url__startswith=" + URL[:-3]), client.get(base + "?url__startswith=" + URL + "x")
    assert right.status_code == wrong.status_code == 400
    for lookup in ("url__regex=^https", "url__contains=T0ADMIN", "url=" + URL, "url__gt=a"):
        assert client.get(f"{base}?{lookup}").status_code == 400, lookup
    assert client.get(base + "?enabled__exact=1").status_code == 200
    from django.contrib.auth.models import User
    from django.test import Client

    root = Client()
    root.force_login(User.objects.create_superuser("root", "root@example.com", "x-0123456789"))
    assert root.get("/admin/core/apitoken/?token_hash__startswith=a").status_code == 400  # the same kind
    assert root.get("/admin/core/apitoken/?name=ci").status_code == 200


def test_a_team_webhook_that_is_the_global_one_posts_once(db, personas, settings) -> None:  # type: ignore[no-untyped-def]
    """One Slack channel for everything (the team's webhook set to the global URL, as typed or spelt
    differently) gets each event once, not once as 'global' and once as the team's."""
    from notifications.services import Event, notify

    search = Team.objects.get(name="search")
    settings.NOTIFY_EMAILS, settings.NOTIFY_WEBHOOK_URL = [], URL
    hook = TeamWebhook.objects.create(team=search, url=URL)
    for n, url in enumerate((URL, URL.replace("https://hooks.example.com", "https://HOOKS.example.com:443"))):
        hook.url = url
        hook.save()
        notify(Event(kind="model.promoted", key=f"k{n}", subject="s", lines=[], link="/", team=search))
        assert Notification.objects.filter(event_key=f"k{n}", channel="webhook").count() == 1, url
    hook.url = URL + "-other"
    hook.save()
    notify(Event(kind="model.promoted", key="k-other", subject="s", lines=[], link="/", team=search))
    assert Notification.objects.filter(event_key="k-other", channel="webhook").count() == 2


def test_the_delivery_log_reads_each_webhook_once_not_once_per_row(login, personas, settings) -> None:  # type: ignore[no-untyped-def]
    """Each webhook row of the delivery log showed its recipient by reading its webhook (the team's row, or
    the stored notification targets for the global one): 50 rows, 50 more queries. Each webhook is read
    once per page now; what is shown is the same (host only)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from notifications.services import Event, notify

    search = Team.objects.get(name="search")
    settings.NOTIFY_EMAILS, settings.NOTIFY_WEBHOOK_URL = (
        [],
        "https://global.example.com/services/T0G/B0G/globalsecret99",
    )
    TeamWebhook.objects.create(team=search, url=URL)
    client = login("operator")
    counts = []
    for rows in (2, 25):
        for n in range(rows - Notification.objects.count() // 2):
            notify(Event(kind="model.promoted", key=f"log-{rows}-{n}", subject="s", lines=[], link="/", team=search))
        with CaptureQueriesContext(connection) as queries:
            page = client.get("/notifications/")
        assert page.status_code == 200
        counts.append(len(queries))
    text = page.content.decode()
    assert "https://hooks.example.com/…" in text and "https://global.example.com/…" in text
    assert SECRET not in text and "globalsecret99" not in text
    assert counts[1] <= counts[0], counts  # 50 rows need no more queries than 4


def test_a_webhook_removed_meanwhile_fails_at_once_not_after_every_retry(db, personas, settings) -> None:  # type: ignore[no-untyped-def]
    """A team webhook an admin disabled (or deleted) after the event was recorded can never be posted to:
    each of its rows was tried NOTIFY_MAX_RETRIES more times over ~16 minutes before failing. It fails at
    the first attempt now, audited, with the reason; the email rows are not touched."""
    from mlopsadmin.core.models import AuditEvent
    from notifications.services import Event, notification_deliver, notify

    search = Team.objects.get(name="search")
    settings.NOTIFY_EMAILS, settings.NOTIFY_WEBHOOK_URL = ["ops@example.com"], ""
    hook = TeamWebhook.objects.create(team=search, url=URL)
    notify(Event(kind="model.promoted", key="removed", subject="s", lines=[], link="/", team=search))
    row = Notification.objects.get(event_key="removed", channel="webhook")
    hook.enabled = False
    hook.save()
    assert notification_deliver(notification_id=row.pk, final=False) == "failed"  # not raised: no retry
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("failed", 1) and "removed or disabled" in row.last_error
    assert AuditEvent.objects.filter(action="notification.failed", target_id=str(row.pk)).count() == 1
    emails = Notification.objects.filter(event_key="removed", channel="email")
    assert emails.exists() and set(emails.values_list("state", flat=True)) == {"pending"}
