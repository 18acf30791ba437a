"""The gate's MLflow reads, started beside a promotion's alias read under the lock.

A promotion must read the live aliases (the bare MLflow calls read them too), then the gate's inputs: both
source runs (candidate and @champion: state and metrics), the candidate run's experiment (gc removes a
deleted experiment with its runs) and the candidate version's tags (its plan and the imported-approval rule).
The version → source run mapping never changes in MLflow, so the registry index names the runs before the
aliases are known (its @challenger, or the version asked for, and its @champion), and ONE live re-check goes
out while the aliases are read: both runs in one `search_runs` (a run deleted, restored or purged, a metric
logged since the index read it: the gate sees MLflow's answer). The experiment's state and the version's
tags come from the index (issue 20: one MLflow read beside the aliases, not four), and are read live only
where the index cannot stand in: an experiment the index saw deleted (or never saw), a version the live
aliases do not name (it may have been deleted), tags that change the plan (rollback tags) or an approval
imported from tags (see gate_reads.gate_check). Deleting an experiment deletes its runs in MLflow, so the run
re-check refuses them; what escapes until the next index sync is an experiment deleted and then one of its
runs restored on its own, both since the sync.

When the live aliases confirm the guess (same versions, same model — not deleted and re-created since), the
gate uses these reads; otherwise (aliases moved since the index saw them, a version the index does not know
yet, a run not found) it reads MLflow as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import connection

from mlopsadmin.lib import mlflow_bounded as bounded
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.models import IndexedModel, IndexedRun, IndexedVersion
from registry_ui.promotion.plans import ROLLBACK_TAGS

GONE = "gone"  # an experiment MLflow no longer has


@dataclass(frozen=True)
class GateRuns:
    """The guess and what MLflow answered for it: `run_of` version → source run id (from the index),
    `states` run id → (lifecycle stage, latest metrics, experiment id), `experiments` experiment id → its
    lifecycle stage (or GONE), `tags` the candidate version's tags (None: not known), `tags_live` whether
    they were read in MLflow now (else they are the index's)."""

    candidate: str | None
    champion: str | None
    created: int | None  # the indexed model's creation time: a re-created model is another model
    run_of: dict[str, str] = field(default_factory=dict)
    states: dict[str, tuple[str, dict[str, float], str]] = field(default_factory=dict)
    experiments: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] | None = None
    tags_live: bool = False

    def tags_of(self, version: str | None, live: dict[str, str], created: int | None) -> dict[str, str] | None:
        """The tags of `version` of the model created at `created` (live) with the `live` aliases, when they
        were read now, or come from the index and the live aliases name the version (so it still exists);
        else None (the caller reads them)."""
        same = version is not None and version == self.candidate and created == self.created
        known = self.tags_live or version in live.values()
        return dict(self.tags) if same and known and self.tags is not None else None

    def covers(self, candidate: str, champion: str | None, created: int | None, live: dict[str, str]) -> bool:
        """True when these reads are the gate's inputs for promoting `candidate` over `champion` (`live`
        aliases) of the model created at `created` (live)."""
        wanted = [candidate] + ([champion] if champion else [])
        if candidate != self.candidate or champion != self.champion or created != self.created:
            return False
        if not self.tags_live and candidate not in live.values():  # the index's tags, of a version maybe gone
            return False
        if not all(self.run_of.get(v, "") in self.states for v in wanted):
            return False
        experiment = self.states[self.run_of[candidate]][2]
        return experiment in self.experiments and self.tags is not None


@dataclass(frozen=True)
class Indexed:
    """One version as the index knows it: its source run, that run's experiment and the experiment's state
    (both "" when the index has no row for the run), and the version's tags."""

    run_id: str
    experiment_id: str
    experiment_stage: str
    tags: dict[str, str]


def _alias_number(alias: Literal["champion", "challenger"]) -> str:
    """SQL for the version number the indexed model `m` gives `alias` (a string, NULL when none). `alias` is
    one of the two constants, written into the SQL: never a name that came from outside."""
    if connection.vendor == "postgresql":
        return f"(m.aliases ->> '{alias}')"
    return f"json_extract(m.aliases, '$.{alias}')"


def _index_sql(named: bool) -> str:
    """The one query of `_index_read`: the model's row, left-joined to the versions the index says are its
    @champion and its candidate (the version asked for when `named`, else its @challenger), each with its
    source run's experiment. Written out (our own index tables, both database vendors) because the ORM's
    compilation of the same query cost more than running it (issue 20: ~2 ms of a promotion's path)."""
    table = {
        model: connection.ops.quote_name(model._meta.db_table) for model in (IndexedModel, IndexedVersion, IndexedRun)
    }
    number = "CAST(v.number AS TEXT)"
    candidate = "%s" if named else _alias_number("challenger")
    return (
        "SELECT v.number, v.run_id, r.experiment_id, r.experiment_stage, v.tags, m.aliases, m.creation_timestamp "
        f"FROM {table[IndexedModel]} m "
        f"LEFT JOIN {table[IndexedVersion]} v ON v.model_id = m.id "
        f"AND ({number} = {_alias_number('champion')} OR {number} = {candidate}) "
        f"LEFT JOIN {table[IndexedRun]} r ON r.run_id = v.run_id AND v.run_id <> '' "
        "WHERE m.name = %s"
    )


def _json(value: Any) -> dict[str, str]:
    """A JSON column's value read by a raw cursor: text (SQLite; PostgreSQL's jsonb, as Django sets psycopg2
    up) or already a dict."""
    if isinstance(value, str):
        value = json.loads(value)
    return dict(value or {})


def _index_read(model_name: str, version: str | None) -> tuple[dict[str, str], int | None, dict[str, Indexed]]:
    """(the model's aliases and creation time as the index knows them, {version: what the index knows of it}
    for `version` — else the indexed @challenger — and the indexed @champion), in one query (issue 20: the
    model's row joined to those versions and their runs: `_index_sql`). ({}, None, {}) when the index does
    not know the model."""
    named = bool(version)
    params = ([str(version)] if named else []) + [model_name]
    with connection.cursor() as cursor:
        cursor.execute(_index_sql(named), params)
        rows = cursor.fetchall()
    if not rows:
        return {}, None, {}
    aliases, created = _json(rows[0][5]), rows[0][6]
    indexed = {
        str(number): Indexed(run_id, experiment_id or "", experiment_stage or "", _json(tags))
        for number, run_id, experiment_id, experiment_stage, tags, _, _ in rows
        if number is not None and run_id
    }
    return aliases, created, indexed


class Pending:
    """The gate's reads under way: `result()` waits for them (in the caller's thread); `candidate` the
    version guessed (None: no guess)."""

    def __init__(self, gather: Callable[[], GateRuns], candidate: str | None) -> None:
        self.gather = gather
        self.candidate = candidate

    def result(self) -> GateRuns:
        return self.gather()


def start(model_name: str, version: str | None, deadline: bounded.Deadline, pool: ThreadPoolExecutor) -> Pending:
    """Guess the candidate (`version`, else the indexed @challenger) and the @champion from the index (this
    thread: one query, see `_index_read`), then send the live re-check of both source runs on `pool` (one
    `search_runs`), plus the experiment's state and the version's tags only where the index cannot stand in
    for them (see the module docstring), each within `deadline`."""
    aliases, created, read = _index_read(model_name, version)
    candidate = str(version) if version else aliases.get("challenger")
    champion = aliases.get("champion")
    indexed = {number: known for number, known in read.items() if number in (candidate, champion)}
    run_of = {number: known.run_id for number, known in indexed.items()}
    guess = GateRuns(str(candidate) if candidate else None, str(champion) if champion else None, created, run_of)
    mine = indexed.get(str(candidate)) if candidate else None
    if mine is None or not mine.experiment_id:
        return Pending(lambda: guess, guess.candidate)
    runs: Future[dict[str, tuple[str, dict[str, float], str]]] = bounded.send_now(
        pool,
        bounded.get_runs_state,
        sorted(set(run_of.values())),
        sorted({known.experiment_id for known in indexed.values() if known.experiment_id}),
        timeout=deadline.call_timeout(),
    )
    experiment_id = mine.experiment_id
    stage = (
        None
        if mine.experiment_stage == "active"
        else bounded.send_now(pool, _experiment_stage, experiment_id, deadline)
    )
    named = str(candidate) in {str(v) for v in aliases.values()}
    tags = (
        bounded.send_now(pool, _version_tags, model_name, str(candidate), deadline)
        if not named or any(key in mine.tags for key in ROLLBACK_TAGS)
        else None
    )

    def gather() -> GateRuns:
        try:
            states = runs.result()
            experiments = {experiment_id: stage.result() if stage is not None else mine.experiment_stage}
            read_tags = tags.result() if tags is not None else mine.tags
        except mlf.MlflowError:  # the gate reads MLflow itself then, and reports any failure
            return guess
        return GateRuns(
            guess.candidate, guess.champion, created, run_of, states, experiments, read_tags, tags is not None
        )

    return Pending(gather, guess.candidate)


def _experiment_stage(experiment_id: str, deadline: bounded.Deadline) -> str:
    try:
        return bounded.get_experiment_stage(experiment_id, timeout=deadline.call_timeout())
    except (mlf.MlflowNotFound, mlf.MlflowInvalid):
        return GONE


def _version_tags(model_name: str, version: str, deadline: bounded.Deadline) -> dict[str, str]:
    return bounded.get_model_version_info(model_name, version, timeout=deadline.call_timeout())[2]
