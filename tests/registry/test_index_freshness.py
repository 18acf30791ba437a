"""The registry index never goes back in time (issue 20 break-test): a sync reads MLflow for a while, and
mlopsadmin's own changes (a promotion's aliases, a tag written on the version page) or a first view land in
the index meanwhile. What the sync read before them must not overwrite them, nor remove what they added:
the page would show the old champion or the old tag, saying it was read after the change."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest

from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import index_store, index_sync
from registry_ui.index_sync import registry_sync
from tests.registry.conftest import make_model
from tests.registry.test_index import _row, _text

pytestmark = pytest.mark.django_db


def _after_reading(monkeypatch: pytest.MonkeyPatch, name: str, change) -> None:  # type: ignore[no-untyped-def]
    """Make `change` happen right after the sync has read the gateway listing `name` (before it writes)."""
    real = getattr(mlf, name)

    def listing(*args, **kwargs):  # type: ignore[no-untyped-def]
        items = list(real(*args, **kwargs))
        change()
        return iter(items)

    monkeypatch.setattr(mlf, name, listing)


def test_a_promotion_during_a_sync_is_not_undone_by_the_models_it_listed_before(mlflow, login, monkeypatch) -> None:
    own = make_model(scores=(0.80, 0.84))
    registry_sync(full=True)

    def promote() -> None:  # what a promotion does: MLflow first, then the aliases it read back, at once
        monkeypatch.undo()
        mlf.set_model_alias(own.name, "champion", 2)
        index_store.aliases_record(own.name, mlf.get_registered_model(own.name).aliases)

    _after_reading(monkeypatch, "iter_registered_models", promote)
    registry_sync(full=False)
    page = _text(login("outsider").get(f"/registry/models/{own.name}/"))
    assert "@champion" in _row(page, "2") and "@champion" not in _row(page, "1")


def test_a_tag_written_during_a_full_sync_is_not_undone_by_the_versions_it_read_before(
    mlflow, login, monkeypatch
) -> None:
    own = make_model(scores=(0.80,))
    registry_sync(full=True)
    client = login("member_search")
    url = f"/registry/models/{own.name}/versions/1/"

    def edit() -> None:  # the tag editor: MLflow, then the index at once
        monkeypatch.undo()
        client.post(f"{url}tags", {"key": "training_commit", "value": "written-meanwhile"})

    _after_reading(monkeypatch, "iter_model_versions", edit)
    registry_sync(full=True)
    assert "written-meanwhile" in _text(client.get(url))
    assert "written-meanwhile" in index_sync.index_store.IndexedVersion.objects.get(
        model__name=own.name, number=1
    ).tags.get("training_commit", "")


def _read_at(page: str) -> datetime:
    """The moment the page says its data was read from MLflow (to the second, from the "as of" title)."""
    found = re.search(r'class="muted small as-of" title="read from MLflow ([0-9-]+ [0-9:]+) UTC', page)
    assert found, "the page says no 'as of'"
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def test_as_of_is_never_later_than_the_oldest_data_the_page_shows(mlflow, login) -> None:
    """A gate metric logged later and a version tag set outside mlopsadmin move no timestamp in MLflow: an
    incremental sync does not read them (a full sync or a webhook does). The page may show them late, but
    it must not say it read MLflow after they happened while showing the values from before."""
    own = make_model(scores=(0.80,))
    registry_sync(full=True)
    time.sleep(1.1)
    changed = datetime.now(tz=UTC).replace(microsecond=0)
    mlf.log_batch(own.run_ids[0], metrics=[("val_ndcg_at_10", 0.97, int(time.time() * 1000), 99)])
    mlf.set_model_version_tag(own.name, 1, "training_commit", "set-outside")
    time.sleep(1.1)
    registry_sync(full=False)
    client = login("outsider")
    model_url, version_url = f"/registry/models/{own.name}/", f"/registry/models/{own.name}/versions/1/"

    def up_to_date(url: str, page: str) -> bool:
        if url == model_url:  # the gate metric column, and the tag no longer listed as missing
            return "0.9700" in _row(page, "1") and "training_commit" not in _row(page, "1")
        return "0.9700" in page and "set-outside" in page

    for url in (model_url, version_url):
        page = _text(client.get(url))
        assert up_to_date(url, page) or _read_at(page) <= changed, (url, _read_at(page), changed)
    index_store.aliases_record(own.name, mlf.get_registered_model(own.name).aliases)  # own change: aliases
    page = _text(client.get(model_url))
    assert up_to_date(model_url, page) or _read_at(page) <= changed, (_read_at(page), changed)
    registry_sync(full=True)  # reads every version and run again: both shown, as of now
    page = _text(client.get(version_url))
    assert up_to_date(version_url, page) and _read_at(page) > changed
