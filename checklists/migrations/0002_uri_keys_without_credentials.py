"""Stored tracking-URI keys move to the product's one URI redactor (`mlopsadmin.lib.uris.without_credentials`):
`https://***@host` (the old checklist redactor) becomes `https://host`, so latency samples and the initial
checklist of a server stay found under the new key. Rows whose new key already exists keep their old key."""

from __future__ import annotations

from typing import Any

from django.db import migrations

OLD_MARK = "://***@"


def _new(uri: str) -> str:
    return uri.replace(OLD_MARK, "://", 1)


def forwards(apps: Any, schema_editor: Any) -> None:
    LatencySample = apps.get_model("checklists", "LatencySample")
    ChecklistInstance = apps.get_model("checklists", "ChecklistInstance")
    for uri in LatencySample.objects.filter(tracking_uri__contains=OLD_MARK).values_list("tracking_uri", flat=True).distinct():
        LatencySample.objects.filter(tracking_uri=uri).update(tracking_uri=_new(uri))
    for instance in ChecklistInstance.objects.filter(tracking_uri__contains=OLD_MARK):
        period_key = _new(instance.period_key) if instance.period_key.startswith("initial:") else instance.period_key
        if ChecklistInstance.objects.filter(kind=instance.kind, period_key=period_key).exclude(pk=instance.pk).exists():
            continue
        ChecklistInstance.objects.filter(pk=instance.pk).update(tracking_uri=_new(instance.tracking_uri), period_key=period_key)


class Migration(migrations.Migration):
    dependencies = [("checklists", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
