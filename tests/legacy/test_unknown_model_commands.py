"""Issue 16 break-test, case 4: a command given a model (or experiment) that does not exist says so in one
line and exits non-zero, instead of reporting an empty result ("0 versions read")."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from mlopsadmin.core.errors import NotFound
from registry_ui.approvals.imports import approvals_import

pytestmark = pytest.mark.django_db

MISSING = "search-no-such-model-anywhere"


def test_import_approvals_of_an_unknown_model_says_it_does_not_exist(mlflow: str, personas) -> None:
    with pytest.raises(CommandError) as info:
        call_command("import_approvals", "--model", MISSING)
    message = str(info.value)
    assert "\n" not in message and f"No registered model named {MISSING!r}" in message, message
    assert "versions read" not in message
    with pytest.raises(NotFound):  # the scheduled task's path too
        approvals_import(model_name=MISSING)


def test_import_approvals_refuses_a_name_mlflow_refuses(mlflow: str, personas) -> None:
    with pytest.raises(CommandError, match="Not a valid registered model name"):
        call_command("import_approvals", "--model", "a/b")


def test_import_approvals_of_a_known_model_still_reads_it(mlflow: str, make_model, capsys) -> None:
    made = make_model([{"val_ndcg_at_10": 0.8}], tags={"approved_by": "jane", "approval_date": "2026-01-02"})
    call_command("import_approvals", "--model", made.name)
    assert "1 versions read; 1 approvals imported" in capsys.readouterr().out


def test_reap_stuck_runs_of_an_unknown_experiment_says_so(mlflow: str, personas) -> None:
    with pytest.raises(CommandError) as info:
        call_command("reap_stuck_runs", "--experiment", "/search-team/no-such-experiment")
    assert "\n" not in str(info.value)


def test_alias_reconcile_of_an_unknown_model_says_it_does_not_exist(mlflow: str, personas) -> None:
    with pytest.raises(CommandError) as info:
        call_command("alias_reconcile", "--model", MISSING)
    assert f"No registered model named {MISSING!r}" in str(info.value), str(info.value)
