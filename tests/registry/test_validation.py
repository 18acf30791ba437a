"""One model-name / version rule for approvals, promotion and the API, and it is MLflow's own rule
(issue 13: the approval service accepted 12 digits, promotion 9)."""

from __future__ import annotations

import pytest

from mlopsadmin.core.errors import InvalidInput, NotFound
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui import validation
from registry_ui.approvals import services as approvals
from registry_ui.promotion import services as promotion

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("given", "canonical"), [("1", "1"), ("007", "7"), ("v3", "3"), (12, "12"), ("2147483647", "2147483647")]
)
def test_version_numbers_mlflow_can_store_are_accepted_in_canonical_form(given: object, canonical: str) -> None:
    assert validation.model_version(given) == canonical


@pytest.mark.parametrize("given", ["", "one", "-1", "1.0", "²", "2147483648", "99999999999", "1 2", None])
def test_anything_else_is_not_a_version(given: object) -> None:
    with pytest.raises(InvalidInput):
        validation.model_version(given)


def test_the_largest_version_reaches_mlflow_and_is_simply_unknown(mlflow, own_model) -> None:  # type: ignore[no-untyped-def]
    """MLflow stores versions in an SQL INTEGER column: 2**31-1 is a valid question with the answer 'no such
    version'; one more can never exist, and is refused before MLflow is asked."""
    with pytest.raises(mlf.MlflowNotFound):
        mlf.get_model_version(own_model.name, str(validation.MAX_VERSION))


def test_approvals_and_promotion_answer_the_same_for_the_same_version(mlflow, own_model, personas) -> None:  # type: ignore[no-untyped-def]
    member, lead = personas["member_search"], personas["lead_search"]
    ten_digits = str(validation.MAX_VERSION)  # promotion refused this as "not a version" before
    with pytest.raises(NotFound):
        approvals.approval_request_create(actor=member, model_name=own_model.name, version=ten_digits)
    with pytest.raises(mlf.MlflowNotFound):
        promotion.alias_make_challenger(model_name=own_model.name, version=ten_digits, actor=lead)
    too_big = "99999999999"  # approvals sent this to MLflow before (a server error on PostgreSQL)
    with pytest.raises(InvalidInput):
        approvals.approval_request_create(actor=member, model_name=own_model.name, version=too_big)
    with pytest.raises(InvalidInput):
        promotion.alias_make_challenger(model_name=own_model.name, version=too_big, actor=lead)


@pytest.mark.parametrize("name", ["a:b", "team/model"])
def test_model_names_mlflow_refuses_are_refused_by_the_one_rule(mlflow, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(mlf.MlflowInvalid):
        mlf.create_registered_model(name)
    with pytest.raises(InvalidInput):
        validation.model_name(name)


@pytest.mark.parametrize("name", ["", "   ", "a\x00b", "x" * 257])
def test_blank_control_characters_and_overlong_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        validation.model_name(name)
