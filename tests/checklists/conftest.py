"""Fixtures of the checklists tests: the session's MLflow server with its backend store URI known."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def probed_server(mlflow: str, settings: object) -> str:
    """The real MLflow server, with MLFLOW_BACKEND_STORE_URI set to the backend it really uses."""
    from django.conf import settings as django_settings

    backend = os.environ.get("MLOPSADMIN_TEST_MLFLOW_BACKEND") or django_settings.MLFLOW_BACKEND_STORE_URI
    assert backend, "the session fixture should have stored the MLflow backend store URI"
    settings.MLFLOW_BACKEND_STORE_URI = backend  # type: ignore[attr-defined]
    return mlflow


@pytest.fixture
def weekly(db: None, mlflow: str):  # type: ignore[no-untyped-def]
    from checklists.services import instance_create

    return instance_create(kind="weekly")[0]


@pytest.fixture
def monthly(db: None, mlflow: str):  # type: ignore[no-untyped-def]
    from checklists.services import instance_create

    return instance_create(kind="monthly")[0]


def tick_all_manual(instance, actor) -> None:  # type: ignore[no-untyped-def]
    from checklists.services import item_tick

    for item in instance.items.all():
        if item.needs_tick:
            item_tick(instance_id=instance.pk, key=item.key, actor=actor, note="checked by hand")
