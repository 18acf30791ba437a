"""A schedule set by environment variable (SCHEDULE_<NAME>) that beat cannot use is reported by
`manage.py check` with the variable's name, and beat refuses it in one line instead of a parser traceback."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from mlopsadmin.core.checks import check_schedules
from mlopsadmin.schedules import beat_schedule


@pytest.mark.parametrize("value", ["every hour", "-1 * * * *", "0 0 31 2 *", "61 * * * *", "* * * *"])
def test_an_unusable_schedule_variable_is_reported_by_name(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SCHEDULE_REAPER", value)
    problems = check_schedules(None)
    assert [p.id for p in problems] == ["mlopsadmin.E012"]
    assert "SCHEDULE_REAPER" in problems[0].msg and value in problems[0].msg
    with pytest.raises(ImproperlyConfigured, match="SCHEDULE_REAPER"):
        beat_schedule()


@pytest.mark.parametrize("value", ["off", "OFF", "5 * * * *", "0 6 * * mon-fri"])
def test_usable_schedule_variables_pass(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SCHEDULE_REAPER", value)
    assert check_schedules(None) == []
    assert ("reaper" in beat_schedule()) == (value.lower() != "off")
