"""Issue 22: the [environments] section describes promotion paths the copy can govern. An approval for an
environment names the version to copy by its number in the environment promoting into it, and "how far
behind" counts the versions of THE previous environment: two environments promoting into one would let an
approval given for a copy from one of them let the same version number of the other through. Two
environments that name the same registered models (one server twice, one prefix twice) would copy a
version into itself."""

from __future__ import annotations

import pytest

from configuration.files import ConfigInvalid
from configuration.services import config_apply

pytestmark = pytest.mark.django_db


def _refusal(text: str) -> str:
    with pytest.raises(ConfigInvalid) as refused:
        config_apply(actor="system:test", text=text)
    return " ".join(f"{p.path}: {p.message}" for p in refused.value.problems)


def test_two_environments_promoting_into_one_are_refused() -> None:
    refused = _refusal(
        '[environments.dev]\nkind = "server"\ntracking_uri = "http://dev.internal:5000"\nnext = "prod"\n'
        '[environments.qa]\nkind = "prefix"\nprefix = "qa."\nnext = "prod"\n'
        '[environments.prod]\nkind = "server"\ntracking_uri = "http://prod.internal:5000"\nrequire_approval = true\n'
    )
    assert "environments.qa.next: dev and qa both promote into prod" in refused, refused


@pytest.mark.parametrize(
    ("dev", "prod", "why"),
    [
        (
            'kind = "server"\ntracking_uri = "http://mlflow.internal:5000"',
            'kind = "server"\ntracking_uri = "http://mlflow.internal:5000/"',
            "dev and prod are the same tracking server",
        ),
        ('kind = "prefix"\nprefix = "env."', 'kind = "prefix"\nprefix = "env."', "dev and prod use the same prefix"),
    ],
)
def test_two_environments_naming_the_same_models_are_refused(dev: str, prod: str, why: str) -> None:
    refused = _refusal(f'[environments.dev]\n{dev}\nnext = "prod"\n[environments.prod]\n{prod}\n')
    assert why in refused, refused


def test_a_chain_is_accepted() -> None:
    config_apply(
        actor="system:test",
        text='[environments.dev]\nkind = "server"\ntracking_uri = "http://dev.internal:5000"\nnext = "staging"\n'
        '[environments.staging]\nkind = "prefix"\nprefix = "staging."\nnext = "prod"\n'
        '[environments.prod]\nkind = "prefix"\nprefix = "prod."\n',
    )


@pytest.mark.parametrize("prefix", ["prod/", "prod:", "../prod.", "./"])
def test_a_prefix_that_makes_no_valid_model_name_is_refused(prefix: str) -> None:
    """A prefix is the start of every model name of its environment: one MLflow refuses ('/', ':', a path
    that normalises away) was accepted and every copy into it failed at registration."""
    refused = _refusal(f'[environments.prod]\nkind = "prefix"\nprefix = "{prefix}"\n')
    assert "environments.prod.prefix: " in refused and "Not a valid registered model name" in refused, refused
