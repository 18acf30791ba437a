"""Issue 22 break-test: three environments in a chain, dev (its own server) → staging (a prefix in this
installation's registry) → prod (a prefix, with a metric gate). A version copied across servers into
staging carries its run's metrics, so prod's gate judges the copy by the model's real figures: a good
version goes on to prod, a weak one is refused with its value, and lineage names each step."""

from __future__ import annotations

import uuid

import pytest

from registry_ui.environments import services
from registry_ui.environments.selectors import model_environments

from .helpers import configure, make_version, versions_on

pytestmark = pytest.mark.django_db


def test_a_version_travels_dev_staging_prod_under_each_gate(dev_mlflow, mlflow, personas) -> None:  # type: ignore[no-untyped-def]
    configure(
        {
            "dev": {"kind": "server", "tracking_uri": dev_mlflow.url, "next": "staging"},
            "staging": {"kind": "prefix", "prefix": "staging.", "next": "prod"},
            "prod": {"kind": "prefix", "prefix": "prod.", "metric": "accuracy", "threshold": 0.9},
        }
    )
    base = f"search-chain-{uuid.uuid4().hex[:8]}"
    good = make_version(dev_mlflow.url, base, score=0.3, metrics={"accuracy": 0.95, "loss": 0.1})
    weak = make_version(dev_mlflow.url, base, score=0.4, metrics={"accuracy": 0.5})
    admin = personas["admin"]

    staged = {v: services.promote_to_next(actor=admin, source_env="dev", model=base, version=v) for v in (good, weak)}
    assert [staged[v].target_version for v in (good, weak)] == ["1", "2"]

    to_prod = services.promote_to_next(actor=admin, source_env="staging", model=base, version="1")
    assert (to_prod.target_model, to_prod.target_version) == (f"prod.{base}", "1")
    with pytest.raises(services.GateFailed) as refused:
        services.promote_to_next(actor=admin, source_env="staging", model=base, version="2")
    assert refused.value.extra["reasons"] == ["accuracy = 0.5 does not meet prod's threshold (≥ 0.9)"]

    prod_tags = versions_on(mlflow, f"prod.{base}")[0]["tags"]
    assert prod_tags["mlopsadmin.copied_from.environment"] == "staging"
    assert prod_tags["mlopsadmin.copied_from.model"] == f"staging.{base}"
    staging_tags = {v["version"]: v["tags"] for v in versions_on(mlflow, f"staging.{base}")}
    assert staging_tags["1"]["mlopsadmin.copied_from.version"] == good
    assert staging_tags["1"]["mlopsadmin.copied_to.prod"] == f"prod.{base} v1"
    rows = {row["environment"]: row for row in model_environments(base)}
    assert (rows["staging"]["received"], rows["staging"]["behind"]) == (weak, 0)
    assert (rows["prod"]["received"], rows["prod"]["behind"]) == ("1", 1)


def test_a_version_that_did_not_come_from_the_previous_environment_goes_no_further(  # type: ignore[no-untyped-def]
    dev_mlflow, mlflow, personas
) -> None:
    """A version registered straight into staging (or left there by a failed copy) never passed staging's
    gate: promoting it on to prod would skip dev and staging's approval. The gate of the next step says so
    (422 with the reason) and nothing is created in prod."""
    configure(
        {
            "dev": {"kind": "server", "tracking_uri": dev_mlflow.url, "next": "staging"},
            "staging": {"kind": "prefix", "prefix": "staging.", "next": "prod", "require_approval": True},
            "prod": {"kind": "prefix", "prefix": "prod."},
        }
    )
    base = f"search-skip-{uuid.uuid4().hex[:8]}"
    direct = make_version(mlflow, f"staging.{base}", score=0.5)  # never promoted from dev
    with pytest.raises(services.GateFailed) as refused:
        services.promote_to_next(actor=personas["admin"], source_env="staging", model=base, version=direct)
    assert refused.value.extra["reasons"] == [
        f"staging.{base} v{direct} was not promoted from dev: a version enters staging only from dev, "
        "under staging's gate"
    ]
    assert versions_on(mlflow, f"prod.{base}") == []
