"""Issue 22: the target environment's metric gate judges numbers. A run whose metric is NaN (a diverged
training) or infinite passed prod's threshold (every comparison with NaN is false), where the promotion
gate of the same installation refuses a metric that is not a finite number; a threshold of nan or inf in
the configuration file let every version through."""

from __future__ import annotations

import math
import uuid

import pytest

from configuration.files import ConfigInvalid
from configuration.services import config_apply
from registry_ui.environments import services

from .helpers import configure, make_version, models_named

pytestmark = pytest.mark.django_db
GATED = {
    "dev": {"kind": "prefix", "prefix": "dev.", "next": "prod"},
    "prod": {"kind": "prefix", "prefix": "prod.", "metric": "accuracy", "threshold": 0.9},
}


@pytest.mark.parametrize(("value", "shown"), [(math.nan, "NaN"), (math.inf, "Infinity")])
def test_a_metric_that_is_not_a_finite_number_does_not_pass_the_gate(  # type: ignore[no-untyped-def]
    mlflow, personas, value: float, shown: str
) -> None:
    configure(GATED)
    base = f"search-nan-{uuid.uuid4().hex[:8]}"
    version = make_version(mlflow, f"dev.{base}", score=0.1, metrics={"accuracy": value})
    with pytest.raises(services.GateFailed) as refused:
        services.promote_to_next(actor=personas["admin"], source_env="dev", model=base, version=version)
    assert refused.value.extra["reasons"] == [f"accuracy = {shown} is not a finite number (prod's threshold ≥ 0.9)"]
    assert models_named(mlflow, f"prod.{base}") == []


@pytest.mark.parametrize("threshold", ["nan", "inf", "-inf"])
def test_a_threshold_that_is_not_a_finite_number_is_refused(db, threshold: str) -> None:  # type: ignore[no-untyped-def]
    text = f'[environments.prod]\nkind = "prefix"\nprefix = "prod."\nmetric = "accuracy"\nthreshold = {threshold}\n'
    with pytest.raises(ConfigInvalid) as refused:
        config_apply(actor="system:test", text=text)
    assert "environments.prod.threshold: Input should be a finite number" in str(refused.value), refused.value


def test_the_promotion_gate_threshold_in_the_file_is_a_finite_number_too(db) -> None:  # type: ignore[no-untyped-def]
    """The same kind in [gate]: `threshold = nan` answered with the database's JSON error, not a refusal."""
    with pytest.raises(ConfigInvalid) as refused:
        config_apply(actor="system:test", text='[gate.default]\nmetric = "accuracy"\nthreshold = nan\n')
    assert "gate.default.threshold: Input should be a finite number" in str(refused.value), refused.value
