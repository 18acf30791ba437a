"""Configuration as code: export → apply is a no-op, the docs example rebuilds the demo's state on an
empty install, broken files change nothing and name the line, and applied values drive the product."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from configuration.files import ConfigInvalid
from configuration.services import config_apply, config_export
from configuration.state import live_units
from mlopsadmin.core.models import AuditEvent, Team

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def docs_example() -> str:
    return re.search(r"## Full example.*?```toml\n(.*?)```", DOCS.read_text(), re.S).group(1)


class Rollback(Exception):
    pass


@pytest.mark.django_db
def test_docs_example_on_an_empty_install_gives_the_demo_state() -> None:
    from mlopsadmin.core.demo import SeedReport, seed_users_and_teams

    try:
        with transaction.atomic():
            seed_users_and_teams(SeedReport())
            demo = live_units()
            raise Rollback
    except Rollback:
        pass
    assert not Team.objects.exists()
    result = config_apply(actor="tester", text=docs_example(), source="docs")
    assert result.applied and len(result.changes) > 20
    assert live_units() == demo
    assert AuditEvent.objects.filter(action__startswith="config.").count() == len(result.changes)


@pytest.mark.django_db
def test_export_then_apply_changes_nothing(personas) -> None:  # type: ignore[no-untyped-def]
    events = AuditEvent.objects.count()
    text = config_export()
    assert "[teams.search]" in text and "lead_search_2" in text
    result = config_apply(actor="tester", text=text, source="export")
    assert result.changes == [] and not result.applied
    assert AuditEvent.objects.count() == events


BROKEN = [
    ("version = 1\n[teams.search\nexperiment_prefix = '/s'\n", 2, "not valid TOML"),
    ("version = 1\n\n[teams.search]\nexperiment_prefix = '/Search Team'\n", 4, "must look like '/search-team'"),
    ("version = 1\n[cleanup]\nolder_than_days = 30\nstatuses = ['RUNNING']\n", 4, "cleanup.statuses"),
    ("version = 1\n[cleanup]\nolder_than_dayz = 30\n", 3, "Extra inputs are not permitted"),
    (
        "[teams.a]\nexperiment_prefix = '/a-team'\nmodel_patterns = ['search-*']\n"
        "[teams.b]\nexperiment_prefix = '/b-team'\nmodel_patterns = ['*-ranker']\n",
        6,
        "equally specific",
    ),
    ("[users.jane]\nroles = ['ML lead']\nteams = ['nope']\n", 3, "unknown team 'nope'"),
    ("[schedules]\nreaper = 'every hour'\n", 2, "not five cron fields"),
    # Celery's parser raises its own ParseException for these (a traceback before): refused with the line.
    ("[schedules]\nreaper = '-1 * * * *'\n", 2, "not five cron fields"),
    ("[schedules]\nreaper = '0 0 31 2 *'\n", 2, "not five cron fields"),
    ("[naming.experiments]\nsegment_pattern = '[a-z'\n", 2, "not a valid regular expression"),
    # Control characters (a NUL cannot even be stored by PostgreSQL): refused with the line, never a traceback.
    ('[teams.a]\nexperiment_prefix = "/a-team"\ndisplay_name = "A\\u0000"\n', 3, "control character"),
    ('[notifications]\nemails = ["ops@example.com\\u0007"]\n', 2, "control character"),
    # Nesting deeper than Python's parser can recurse: refused, not an internal error.
    ("version = 1\nx = " + "[" * 5000 + "]" * 5000 + "\n", 1, "nested too deeply"),
    # (an escaped key is located by its table's line)
    ('[gate.models]\n"m\\u0000" = {threshold = 0.5}\n', 1, "gate.models.m\\x00: contains a control character"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "line", "reason"), BROKEN)
def test_a_broken_file_changes_nothing_and_names_the_line(personas, text: str, line: int, reason: str) -> None:  # type: ignore[no-untyped-def]
    before, events = live_units(), AuditEvent.objects.count()
    with pytest.raises(ConfigInvalid) as info:
        config_apply(actor="tester", text=text, source="broken.toml")
    assert any(p.line == line and reason in f"{p.path}: {p.message}" for p in info.value.problems), str(info.value)
    assert f"line {line}" in str(info.value)
    assert live_units() == before and AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_applied_values_drive_ownership_gate_cleanup_and_schedules(personas) -> None:  # type: ignore[no-untyped-def]
    from configuration.selectors import cleanup_defaults, keep_values
    from maintenance.selectors import schedules_overview
    from mlopsadmin.core.selectors import team_for_model
    from registry_ui.promotion.gate_reads import gate_config_for

    text = config_export()
    text = text.replace('model_patterns = ["churn-*"]', 'model_patterns = ["churn-*", "search-ranker-*"]')
    text = text.replace("older_than_days = 90", "older_than_days = 30")
    text = text.replace('reaper = "5 * * * *"', 'reaper = "off"')
    text = text.replace("churn = {threshold = 0.85}", "churn = {threshold = 0.85, require_approval = false}")
    changes = config_apply(actor="tester", text=text, source="edit", dry_run=True).changes
    assert {c.key for c in changes} == {"team:churn", "cleanup", "schedule:reaper", "gate.team:churn"}
    assert team_for_model("search-ranker-v2").name == "search"  # dry run: nothing changed
    config_apply(actor="tester", text=text, source="edit")
    assert team_for_model("search-ranker-v2").name == "churn"  # more literal characters than search-*
    assert team_for_model("search-other").name == "search"
    assert team_for_model("bert-search-ranking-2026").name == "search"  # explicit name
    assert team_for_model("nobody-owns-me") is None
    gate = gate_config_for("search-ranker-v2")
    assert (gate.threshold, gate.require_approval) == (0.85, False)
    assert gate_config_for("recommendation-item2vec").max_drop_pct == 3.0  # model policy
    assert cleanup_defaults()["older_than_days"] == 30 and "yes" in keep_values()
    reaper = next(row for row in schedules_overview() if row.key == "reaper")
    assert reaper.cron == "off"
    events = AuditEvent.objects.filter(action="config.update", reason="apply_config edit")
    assert events.count() == 4
    assert events.filter(target_kind="team", target_id="churn").exists()


@pytest.mark.django_db
def test_removing_a_team_and_moving_a_user_in_one_apply(personas) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import User

    text = config_export()
    start = text.index("[teams.churn]")
    end = text.index("[teams.", start + 5)
    text = text[:start] + text[end:]
    text = text.replace("[gate.teams]\nchurn = {threshold = 0.85}\n", "[gate.teams]\n")
    text = re.sub(r"lead_churn = \{[^}]*\}", 'lead_churn = {email = "x@example.com", active = false}', text)
    text = re.sub(r"lead_churn_2 = \{[^}]*\}\n", "", text)
    config_apply(actor="tester", text=text, source="edit")
    assert not Team.objects.filter(name="churn").exists()
    lead = User.objects.get(username="lead_churn")
    assert not lead.is_active and lead.email == "x@example.com" and not lead.groups.exists()
    assert User.objects.filter(username="lead_churn_2").exists()  # not listed: left alone
    assert AuditEvent.objects.filter(action="config.delete", target_id="churn").exists()


@pytest.mark.django_db
def test_commands_dry_run_apply_and_refuse(personas, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "live.toml"
    call_command("export_config", str(path))
    call_command("apply_config", str(path))
    assert "No changes" in capsys.readouterr().out
    path.write_text(path.read_text().replace("older_than_days = 90", "older_than_days = 14"))
    call_command("apply_config", str(path), "--dry-run")
    out = capsys.readouterr().out
    assert "~ cleanup: older_than_days: 90 → 14" in out and "Dry run: 1 change" in out
    path.write_text(path.read_text().replace("older_than_days = 14", "older_than_days = -1"))
    with pytest.raises(CommandError, match=r"line \d+: cleanup.older_than_days"):
        call_command("apply_config", str(path))


@pytest.mark.django_db
def test_api_export_and_apply_for_admins_only(login) -> None:  # type: ignore[no-untyped-def]
    client = login("admin")
    text = client.get("/api/v1/config").json()["toml"]
    edited = text.replace("older_than_days = 90", "older_than_days = 7")
    dry = client.post("/api/v1/config/apply", {"toml": edited}, content_type="application/json").json()
    assert dry["applied"] is False and [c["key"] for c in dry["changes"]] == ["cleanup"]
    done = client.post("/api/v1/config/apply", {"toml": edited, "dry_run": False}, content_type="application/json")
    assert done.status_code == 200 and done.json()["applied"] is True
    bad = client.post("/api/v1/config/apply", {"toml": "[cleanup]\nstatuses = 3\n"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["problems"][0]["line"] == 2
    assert login("lead_search").get("/api/v1/config").status_code == 403


@pytest.mark.django_db
def test_metric_directions_and_a_models_gate_direction_come_from_the_file(personas) -> None:  # type: ignore[no-untyped-def]
    from registry_ui.metric_direction import HIGHER, LOWER, metric_direction
    from registry_ui.promotion.models import GatePolicy

    text = config_export()
    assert "[metrics]" in text and 'higher_is_better = ["error_reduction"]' in text  # from demo_config.toml
    assert metric_direction("error_reduction") == HIGHER  # "error" alone would say lower
    assert metric_direction("val_rmse") == LOWER
    text = text.replace("lower_is_better = []", 'lower_is_better = ["time_to_first_click"]')
    assert text.count('direction = "", count_imported_approvals = true') == 1  # the one model policy
    text = text.replace(
        'direction = "", count_imported_approvals = true', 'direction = "lower", count_imported_approvals = false'
    )
    changes = config_apply(actor="tester", text=text, source="edit").changes
    assert {c.key for c in changes} == {"metrics", "gate.model:recommendation-item2vec"}
    assert metric_direction("Time_To_First_Click") == LOWER
    policy = GatePolicy.objects.get(model_name="recommendation-item2vec")
    assert (policy.direction, policy.count_imported_approvals) == ("lower", False)
    again = config_apply(actor="tester", text=config_export(), source="export")
    assert again.changes == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("section", "line", "reason"),
    [
        ('[gate]\ndefault = {direction = "lower"}\n', 3, "only a model's own policy"),
        ('[metrics]\nlower_is_better = ["x"]\nhigher_is_better = ["x"]\n', 4, "also lower_is_better"),
        ('[gate.models]\nm1 = {direction = "sideways"}\n', 3, "gate.models.m1.direction"),
    ],
)
def test_a_wrong_direction_is_refused_with_its_line(personas, section: str, line: int, reason: str) -> None:  # type: ignore[no-untyped-def]
    before = live_units()
    with pytest.raises(ConfigInvalid) as info:
        config_apply(actor="tester", text="version = 1\n" + section, source="broken.toml")
    assert any(p.line == line and reason in f"{p.path}: {p.message}" for p in info.value.problems), str(info.value)
    assert live_units() == before
