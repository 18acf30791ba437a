"""A model's row written by a read while another process holds the model's lock (a re-creation being
checked): the row the read would leave alone may have been removed meanwhile (a sync that found the model
gone); the read then writes it like any first read instead of failing the page or webhook with a 500."""

from __future__ import annotations

import pytest

from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import index_store
from registry_ui.models import IndexedModel

pytestmark = pytest.mark.django_db


def test_a_model_row_removed_while_its_lock_is_held_is_written_again(monkeypatch: pytest.MonkeyPatch) -> None:
    model = mlf.RegisteredModel(
        name="churn-race",
        description="",
        creation_timestamp=2,
        last_updated_timestamp=3,
        tags={},
        aliases={"champion": "1"},
        latest_version="1",
    )
    monkeypatch.setattr(index_store, "identity_checked", lambda listing: set(listing))  # the lock is held

    row = index_store.model_store(model)

    assert row.name == "churn-race" and row.aliases == {"champion": "1"}
    assert IndexedModel.objects.filter(name="churn-race").count() == 1
