"""One URI redactor: stored tracking-URI keys of the old checklist redactor (`https://***@host`) are migrated."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from checklists.models import ChecklistInstance, LatencySample
from checklists.services import definitions_sync
from mlopsadmin.lib.uris import UNPARSEABLE, without_credentials

pytestmark = pytest.mark.django_db


def test_one_redactor_hides_credentials_and_unparseable_uris() -> None:
    assert without_credentials("https://svc:s3cret@mlflow.example.com:8443/x") == "https://mlflow.example.com:8443/x"
    assert without_credentials("http://svc:s3cret@[::1") == UNPARSEABLE
    assert without_credentials("http://svc:s3cret@host:notaport/") == UNPARSEABLE


def test_migration_moves_old_keys_to_the_redactors_format() -> None:
    migration = importlib.import_module("checklists.migrations.0002_uri_keys_without_credentials")
    old = "https://***@mlflow.example.com"
    LatencySample.objects.create(operation="search", milliseconds=5, tracking_uri=old)
    definition = next(d for d in definitions_sync() if d.kind == "initial")
    instance = ChecklistInstance.objects.create(
        definition=definition,
        kind="initial",
        period_key=f"initial:{old}",
        period_start="2026-01-01",
        period_end="2026-01-01",
        tracking_uri=old,
    )
    migration.forwards(apps, None)
    assert LatencySample.objects.get().tracking_uri == "https://mlflow.example.com"
    instance.refresh_from_db()
    assert (instance.tracking_uri, instance.period_key) == (
        "https://mlflow.example.com",
        "initial:https://mlflow.example.com",
    )
