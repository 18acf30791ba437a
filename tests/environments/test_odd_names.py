"""Issue 22 with the names MLflow accepts but filters mangle (see mlopsadmin/lib/mlflow_filters.py): a model
whose name holds a quote or a backslash is shown side by side with its real latest version in every
environment, and a promotion of it copies, tags and reads back like any other."""

from __future__ import annotations

import uuid

import pytest

from registry_ui.environments import services
from registry_ui.environments.selectors import model_environments

from .helpers import configure, make_version, models_named, versions_on

pytestmark = pytest.mark.django_db
PREFIXES = {
    "dev": {"kind": "prefix", "prefix": "dev.", "next": "prod"},
    "prod": {"kind": "prefix", "prefix": "prod.", "require_approval": False},
}


@pytest.mark.parametrize("shape", ["o'brien-{uid}", "back\\slash-{uid}", 'say "hi"-{uid}', "both'\"-{uid}"])
def test_side_by_side_and_promotion_with_quotes_and_backslashes(mlflow, personas, shape: str) -> None:  # type: ignore[no-untyped-def]
    configure(PREFIXES)
    base = shape.format(uid=uuid.uuid4().hex[:8])
    make_version(mlflow, f"dev.{base}", score=0.3)
    version = make_version(mlflow, f"dev.{base}", score=0.6)

    result = services.promote_to_next(actor=personas["admin"], source_env="dev", model=base, version=version)
    assert (result.target_model, result.target_version) == (f"prod.{base}", "1")
    assert [v["version"] for v in versions_on(mlflow, f"prod.{base}")] == ["1"]
    assert models_named(mlflow, f"prod.{base}") == [f"prod.{base}"]

    rows = {row["environment"]: row for row in model_environments(base)}
    assert rows["dev"]["latest"] == "2" and rows["dev"]["error"] == ""
    assert rows["prod"]["latest"] == "1" and rows["prod"]["received"] == "2"
    assert rows["prod"]["behind"] == 0
