"""A configuration file with problems of every kind (shape, values, references between sections, control
characters) is refused in one round: every problem with its line, none that only follows from another."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from configuration.files import ConfigInvalid
from configuration.services import config_apply
from configuration.state import live_units
from mlopsadmin.core.models import AuditEvent

BROKEN = """\
version = 1

[teams.search]
experiment_prefix = "/search-team"
model_patterns = ["search-*"]

[teams.fraud]
experiment_prefix = "/search-team"
display_name = 5

[teams.churn]
display_name = "Churn, no prefix"

[users.jane]
roles = ["ML lead", "Wizard"]
teams = ["nope", "churn", "fraud"]
rolez = ["x"]

[users.bob]
email = "bob@example.com\\u0000"
teams = ["search"]

[cleanup]
older_than_days = -3
keep_values = ["true"]

[schedules]
reaper = "every hour"

[gate.teams.ghost]
threshold = 0.5

[naming.models]
algorithm_words = 7
reserved_words = ["xgboost", "final"]
"""
# (line, words of the problem): schema, value, reference and control-character problems together.
EXPECTED = [
    (8, "teams.fraud.experiment_prefix: already the prefix of team search"),
    (9, "teams.fraud.display_name"),
    (11, "teams.churn.experiment_prefix"),  # a required key missing: named at its table
    (15, "unknown role 'Wizard'"),
    (16, "users.jane.teams: unknown team 'nope'"),
    (17, "users.jane.rolez: Extra inputs are not permitted"),
    (20, "users.bob.email: contains a control character"),
    (24, "cleanup.older_than_days"),
    (28, "schedules.reaper: 'every hour' is not five cron fields"),
    (30, "gate.teams.ghost: unknown team 'ghost'"),
    (34, "naming.models.algorithm_words"),
]


def refused(text: str) -> list[str]:
    with pytest.raises(ConfigInvalid) as info:
        config_apply(actor="tester", text=text, source="broken.toml")
    return [f"line {p.line}: {p.path}: {p.message}" for p in info.value.problems]


@pytest.mark.django_db
def test_every_problem_is_reported_in_one_round(personas) -> None:  # type: ignore[no-untyped-def]
    before, events = live_units(), AuditEvent.objects.count()
    problems = refused(BROKEN)
    for line, words in EXPECTED:
        assert any(p.startswith(f"line {line}: ") and words in p for p in problems), (line, words, problems)
    # Nothing that only follows from another problem: 'churn' is named in the file (its table is broken),
    # 'xgboost' is not "also an algorithm word" (that list is broken: its default is not what the file says).
    assert not any("unknown team 'churn'" in p or "unknown team 'fraud'" in p for p in problems), problems
    assert not any("also algorithm words" in p for p in problems), problems
    assert len(problems) == len(EXPECTED), problems
    lines = [int(p.split(":")[0].removeprefix("line ")) for p in problems]
    assert lines == sorted(lines)  # in the order of the file
    assert live_units() == before and AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_a_whole_section_of_the_wrong_type_still_lets_the_rest_be_checked(personas) -> None:  # type: ignore[no-untyped-def]
    text = 'teams = 5\n\n[users.jane]\nteams = ["anything"]\nroles = ["Wizard"]\n\n[schedules]\nreaper = "x"\n'
    problems = refused(text)
    assert any(p.startswith("line 1: teams:") for p in problems), problems
    assert any(p.startswith("line 5: ") and "unknown role 'Wizard'" in p for p in problems), problems
    assert any(p.startswith("line 8: schedules.reaper") for p in problems), problems
    # The teams section is unreadable: whether 'anything' is a team cannot be said, so it is not claimed.
    assert not any("unknown team" in p for p in problems), problems


@pytest.mark.django_db
def test_the_command_prints_every_problem_at_once(personas, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN)
    with pytest.raises(CommandError) as info:
        call_command("apply_config", str(path), "--dry-run")
    for line, _ in EXPECTED:
        assert f"line {line}: " in str(info.value), str(info.value)
