"""Numbers read from the environment are finite: `inf` or `nan` in a timeout, a window or a threshold stops
the process at start, naming the variable, instead of breaking pages later (a cache timeout of infinity fails
every page on Redis; a request timeout of NaN fails every MLflow call)."""

from __future__ import annotations

import pytest

from mlopsadmin.settings_helpers import SettingError, env_float


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "nan", "NaN", "1e999"])
def test_a_number_that_is_not_finite_is_refused_by_name(monkeypatch, value: str) -> None:
    monkeypatch.setenv("NAV_SHARED_BADGE_SECONDS", value)
    with pytest.raises(SettingError, match="NAV_SHARED_BADGE_SECONDS"):
        env_float("NAV_SHARED_BADGE_SECONDS", 30.0)


def test_finite_numbers_and_the_default_are_read(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MLFLOW_REQUEST_TIMEOUT", " 2.5 ")
    assert env_float("MLFLOW_REQUEST_TIMEOUT", 15.0) == 2.5
    monkeypatch.setenv("MLFLOW_REQUEST_TIMEOUT", "")
    assert env_float("MLFLOW_REQUEST_TIMEOUT", 15.0) == 15.0
