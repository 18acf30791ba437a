"""Issue 19 (what users of other registries expect): registry and catalog tables sort by their column
headers on the server (links that keep the filters; the htmx fragment comes from the same template), and a
search box in the top bar finds models, versions ("model v3", "model/3"), experiments and run ids, with a
results page that shows only what policy.py lets the user see."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest

from catalog.sync import catalog_sync
from mlopsadmin import policy
from mlopsadmin.lib import mlflow_client as mlf
from tests.registry.conftest import make_model

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def _header_links(html: str, table_class: str) -> dict[str, str]:
    """{header label: its link's query} of a table's sortable headers."""
    head = re.search(rf'<table class="grid {table_class}">\s*<thead>(.*?)</thead>', html, re.S).group(1)
    return {
        unescape(re.sub(r"<[^>]+>|[▲▼]", "", label)).strip(): unescape(query)
        for query, label in re.findall(r'<th[^>]*><a href="\?([^"]*)"[^>]*>(.*?)</a></th>', head, re.S)
    }


def _experiments(name_part: str, runs: list[int]) -> list[str]:
    ids = []
    for index, count in enumerate(runs):
        experiment_id = mlf.create_experiment(f"/sorttest-{name_part}/p/exp-{'cab'[index]}")
        for _ in range(count):
            mlf.set_terminated(mlf.create_run(experiment_id))
        ids.append(experiment_id)
    return ids


def test_catalog_sorts_by_header_keeping_filters(mlflow, personas, login, unique) -> None:  # type: ignore[no-untyped-def]
    ids = _experiments(unique, [2, 0, 5])  # exp-c 2 runs, exp-a 0 runs, exp-b 5 runs
    catalog_sync(full=True)
    client = login("member_search")
    page = client.get("/catalog/", {"q": unique}).content.decode()
    links = _header_links(page, "catalog-table")
    assert {"Experiment", "Runs", "Last activity", "Team"} <= set(links)
    runs_query = parse_qs(links["Runs"])
    assert runs_query["q"] == [unique] and runs_query["sort"] == ["-runs"]  # most runs first, filter kept
    by_runs = client.get("/catalog/?" + links["Runs"]).content.decode()
    assert re.findall(r'data-experiment="(\d+)"', by_runs) == [ids[2], ids[0], ids[1]]
    assert re.search(r'<th aria-sort="descending"><a [^>]*>Runs', by_runs)
    again = parse_qs(_header_links(by_runs, "catalog-table")["Runs"])
    assert again["sort"] == ["runs"]  # a second click turns the order round
    fragment = client.get("/catalog/?" + links["Runs"], HTTP_HX_REQUEST="true", HTTP_HX_TARGET="catalog-table")
    body = fragment.content.decode()
    assert body.lstrip().startswith('<div id="catalog-table"') and "<html" not in body  # the same template's part
    assert re.findall(r'data-experiment="(\d+)"', body) == [ids[2], ids[0], ids[1]]
    assert 'name="sort" form="catalog-filters" value="-runs"' in body  # the filter form keeps the sort
    by_name = client.get("/catalog/?" + links["Experiment"]).content.decode()
    assert re.findall(r'data-experiment="(\d+)"', by_name) == [ids[1], ids[2], ids[0]]  # exp-a, exp-b, exp-c


def test_registry_sorts_by_header_keeping_filters(mlflow, personas, login, unique) -> None:  # type: ignore[no-untyped-def]
    models = [
        make_model(prefix=f"search-{unique}{letter}", scores=scores)
        for letter, scores in (("a", (0.8,)), ("b", (0.8, 0.81, 0.82)), ("c", (0.8, 0.81)))
    ]
    names = [m.name for m in models]
    client = login("member_search")
    page = client.get("/registry/", {"q": unique}).content.decode()
    assert re.findall(r'<tr data-model="([^"]+)"', page) == names  # default: by name
    links = _header_links(page, "registry-models")
    assert {"Model", "Team", "Latest", "Pending approvals", "Last change"} <= set(links)
    latest = parse_qs(links["Latest"])
    assert latest["q"] == [unique] and latest["sort"] == ["-latest"]
    by_latest = client.get("/registry/?" + links["Latest"]).content.decode()
    assert re.findall(r'<tr data-model="([^"]+)"', by_latest) == [names[1], names[2], names[0]]
    reverse = client.get("/registry/?" + _header_links(by_latest, "registry-models")["Latest"]).content.decode()
    assert re.findall(r'<tr data-model="([^"]+)"', reverse) == [names[0], names[2], names[1]]
    fragment = client.get(
        "/registry/?" + links["Latest"], HTTP_HX_REQUEST="true", HTTP_HX_TARGET="models"
    ).content.decode()
    assert "<html" not in fragment and 'name="sort" form="registry-filters" value="-latest"' in fragment
    bad = client.get("/registry/", {"q": unique, "sort": "drop table"})
    assert bad.status_code == 200 and re.findall(r'<tr data-model="([^"]+)"', bad.content.decode()) == names


def _results(client, q: str) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """{section: [result link href, ...]} of the search page."""
    response = client.get("/search/", {"q": q})
    assert response.status_code == 200
    html = response.content.decode()
    sections = re.findall(r'<section class="search-results" data-kind="(\w+)">(.*?)</section>', html, re.S)
    return {kind: re.findall(r'<a class="result" href="([^"]+)"', body) for kind, body in sections}


def test_search_finds_models_versions_experiments_and_runs(mlflow, personas, login) -> None:  # type: ignore[no-untyped-def]
    model = make_model(scores=(0.8, 0.82, 0.84))  # search-ranker-<suffix>, experiment /search-team/…/<suffix>
    unique = model.name.rsplit("-", 1)[1]
    catalog_sync(full=True)
    client = login("member_search")
    page = client.get("/catalog/").content.decode()
    assert re.search(r'<form(?=[^>]*role="search")(?=[^>]*action="/search/")', page)  # the top bar's box, on every page

    found = _results(client, unique)
    assert f"/registry/models/{model.name}/" in found["models"]
    assert f"/catalog/experiments/{model.experiment_id}/" in found["experiments"]
    for q in (f"{model.name} v3", f"{model.name}/3", f"{model.name.upper()} V3"):
        assert _results(client, q)["versions"] == [f"/registry/models/{model.name}/versions/3/"], q
    run = _results(client, model.run_ids[1])
    assert run["runs"][0].startswith(f"/catalog/experiments/{model.experiment_id}/")
    assert _results(client, "no-such-thing-" + unique) == {}
    empty = client.get("/search/", {"q": "no-such-thing-" + unique}).content.decode()
    assert "Nothing matches" in empty
    assert client.get("/search/", {"q": "x" * 5000}).status_code == 200  # long input: trimmed, no error
    assert client.get("/search/", {"q": "a\x00b"}).status_code == 400


def test_search_shows_only_what_policy_lets_the_user_see(mlflow, personas, login, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    model = make_model(scores=(0.8,))  # team search's model, run and experiment
    unique = model.name.rsplit("-", 1)[1]
    catalog_sync(full=True)
    allowed = policy.can

    def can(user, action, *, team=None):  # type: ignore[no-untyped-def]
        # a rule of this test: outsiders may not see team search's models and experiments
        if user.get_username() == "outsider" and action == policy.Action.VIEW and team is not None:
            return team.name != "search"
        return allowed(user, action, team=team)

    monkeypatch.setattr(policy, "can", can)
    assert _results(login("outsider"), unique) == {}
    seen = _results(login("member_search"), unique)
    assert f"/registry/models/{model.name}/" in seen["models"]
    assert _results(login("outsider"), model.run_ids[0]) == {}


def test_search_needs_a_signed_in_user(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/search/", {"q": "anything"})
    assert response.status_code == 302 and "/accounts/login/" in urlparse(response["Location"]).path


def test_search_answers_from_the_index_while_mlflow_is_down(mlflow, personas, login, settings) -> None:  # type: ignore[no-untyped-def]
    """Break-test: with the tracking server stopped, "model v2" or a run id in the top bar's box answered a
    whole-page 503, though the registry index holds the versions and their source runs (the registry pages
    themselves read from it). Now those are found, and what only MLflow could say is named as not checked."""
    from registry_ui.index_sync import registry_sync
    from tests.conftest import seeded_mlflow_server

    model = make_model(scores=(0.8, 0.82))
    catalog_sync(full=True)
    registry_sync(full=True)
    client = login("member_search")
    with seeded_mlflow_server(seed=False) as (url, _, process):
        settings.MLFLOW_TRACKING_URI = settings.MLFLOW_UI_URL = url
        process.terminate()
        process.wait(30)
        assert _results(client, f"{model.name} v2") == {"versions": [f"/registry/models/{model.name}/versions/2/"]}
        run = _results(client, model.run_ids[0])
        assert run["runs"][0].startswith(f"/catalog/experiments/{model.experiment_id}/")
        unknown = client.get("/search/", {"q": "f" * 32})
        body = unknown.content.decode()
        assert unknown.status_code == 200
        assert "MLflow" in body and "could not be looked up" in body
        assert "Nothing matches" not in body  # not "no such run": nobody could ask
