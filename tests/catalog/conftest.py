"""Fixtures of the catalog tests: a catalog synced from the session's real MLflow server."""

from __future__ import annotations

import uuid

import pytest

from catalog.sync import catalog_sync
from mlopsadmin.lib import mlflow_client as mlf


@pytest.fixture
def synced(mlflow: str, personas: dict[str, object]):  # type: ignore[no-untyped-def]
    """The local index filled by a full sync (teams exist first, so prefixes resolve)."""
    return catalog_sync(full=True)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


def make_experiment(name: str, runs: list[dict[str, str]]) -> tuple[str, list[str]]:
    """A fresh experiment with one run per tag dict; returns (experiment id, run ids)."""
    experiment_id = mlf.create_experiment(name)
    run_ids = []
    for index, tags in enumerate(runs):
        run_id = mlf.create_run(experiment_id, run_name=f"run-{index}", tags=tags)
        mlf.set_terminated(run_id)
        run_ids.append(run_id)
    return experiment_id, run_ids


FULL_TAGS = {
    "team": "search",
    "owner": "jane@example.com",
    "git.commit": "a1b2c3",
    "data.version": "v1",
    "environment": "gpu",
    "purpose": "tuning",
}


@pytest.fixture
def bad_experiment(synced, unique: str):  # type: ignore[no-untyped-def]
    """A synced experiment of team search with a non-compliant name and three runs: (id, name, run ids)."""
    from catalog.sync import catalog_sync

    name = f"/search-team/Fix_{unique}"
    experiment_id, run_ids = make_experiment(name, [{"team": "search"}, {"team": "search", "owner": "x"}, FULL_TAGS])
    catalog_sync(full=False)
    return experiment_id, name, run_ids
