"""Case 1 of issue 16: every filter string built from a name or tag value is quoted the way MLflow parses
it. A corpus of odd names (quotes of both kinds, backslashes, LIKE wildcards, spaces, unicode) is created in
the real MLflow server and found again by exact name and by tag value, for versions, models and experiments."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib import mlflow_filters

pytestmark = pytest.mark.django_db

# Names MLflow accepts for models and experiments; "/" and ":" are not allowed in model names.
CORPUS = [
    "a'b",
    'a"b',
    "a\\b",
    "end\\",
    "a%b",
    "a_b",
    "a b",
    "modèle-ü-日本",
    'it\'s "quoted"',  # both quote kinds: MLflow has no literal for it
    'q"\\',  # a double quote and a trailing backslash
    "x\\'y",
    "a''b",
]


@pytest.fixture(scope="module")
def corpus(mlflow_server: str, django_db_blocker: object) -> dict[str, tuple[str, str]]:
    """name → (model name, experiment name), each model with one version and a tag team=<name>."""

    stamp = uuid.uuid4().hex[:6]
    experiment_id = mlf.create_experiment(f"/search-team/quoting/{stamp}")
    run_id = mlf.create_run(experiment_id)
    made = {}
    for index, text in enumerate(CORPUS):
        model = f"zq{stamp}{index}-{text}"  # 'zq': listed after the demo models (probes show the first ten)
        experiment = f"/search-team/quoting-{stamp}/{index}-{text}"
        mlf.create_registered_model(model, tags={"team": f"{stamp}{text}"})
        mlf.create_model_version(model, source=f"runs:/{run_id}/model", run_id=run_id)
        mlf.create_experiment(experiment, tags={"team": f"{stamp}{text}"})
        made[text] = (model, experiment)
    # Near-misses that a loose (LIKE) fallback would also select: the exact match must drop them.
    mlf.create_registered_model(f"zq{stamp}8-it_s _quoted_")
    mlf.create_model_version(f"zq{stamp}8-it_s _quoted_", source=f"runs:/{run_id}/model", run_id=run_id)
    return made


@pytest.mark.parametrize("text", CORPUS)
def test_versions_models_and_experiments_found_by_exact_name_and_tag(corpus, mlflow, text) -> None:
    model, experiment = corpus[text]
    stamp = model[2:8]
    assert [(v.name, v.version) for v in mlf.iter_model_versions(name=model)] == [(model, "1")]
    assert [m.name for m in mlf.iter_registered_models(where={"name": model})] == [model]
    assert [m.name for m in mlf.iter_registered_models(where={"tags.team": stamp + text})] == [model]
    assert [e.name for e in mlf.iter_experiments(where={"name": experiment})] == [experiment]
    assert [e.name for e in mlf.iter_experiments(where={"tags.team": stamp + text})] == [experiment]


def test_quote_picks_the_literal_mlflow_reads_back() -> None:
    assert mlflow_filters.quote("a'b") == '"a\'b"'
    assert mlflow_filters.quote('a"b') == "'a\"b'"
    assert mlflow_filters.quote('it\'s "x"') is None
    assert mlflow_filters.equals("tags.team", "a'b").text == 'tags.`team` = "a\'b"'


def test_model_page_and_api_list_the_versions_of_a_quoted_name(corpus, mlflow, login) -> None:
    """The reported symptom: the page said "no versions" and the API returned [] for `a'b`."""
    client = login("admin")
    for text in ("a'b", 'it\'s "quoted"', "a%b"):
        model = corpus[text][0]
        api = client.get(f"/api/v1/registry/models/{quote(model, safe='')}/versions")
        assert api.status_code == 200, api.content
        assert [v["version"] for v in api.json()] == ["1"]
        page = client.get(f"/registry/models/{quote(model, safe='')}/")
        assert page.status_code == 200
        assert b"No versions" not in page.content and b"no versions" not in page.content
        assert b"/versions/1/" in page.content


def test_names_with_control_characters_are_found_and_their_pages_open(mlflow, login) -> None:
    """MLflow accepts a tab or a line break in a model name (it refuses only '/' and ':'): the API lists the
    versions (not "No registered model named …") and the model, version and alias pages open (no 404/500)."""
    stamp = uuid.uuid4().hex[:6]
    run_id = mlf.create_run(mlf.create_experiment(f"/search-team/quoting-control/{stamp}"))
    client = login("admin")
    for index, text in enumerate(["tab\there", "line\nbreak"]):
        model = f"zq{stamp}c{index}-{text}"
        mlf.create_registered_model(model)
        mlf.create_model_version(model, source=f"runs:/{run_id}/model", run_id=run_id)
        quoted = quote(model, safe="")
        api = client.get(f"/api/v1/registry/models/{quoted}/versions")
        assert api.status_code == 200, api.content
        assert [v["version"] for v in api.json()] == ["1"]
        for path in (f"/registry/models/{quoted}/", f"/registry/models/{quoted}/versions/1/"):
            assert client.get(path).status_code == 200, path
        assert client.get(f"/registry/models/{quoted}/aliases/").status_code == 200
