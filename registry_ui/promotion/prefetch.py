"""The gate's MLflow reads, started beside a promotion's alias read under the lock.

A promotion must read the live aliases, then the candidate version's tags (its plan and the imported-approval
rule need them) and the gate's inputs: both source runs (candidate and @champion) and the candidate run's
experiment (gc removes a deleted experiment with its runs). Read one after the other that is four round
trips. The
version → source run mapping never changes in MLflow, so the registry index names the runs and the
experiment before the aliases are known (its @challenger, or the version asked for, and its @champion), and
those reads go out while the aliases are read. When the live aliases confirm the guess (same versions, same
model — not deleted and re-created since), the gate uses these fresh reads; otherwise (aliases moved since
the index saw them, a version the index does not know yet, a run not found) it reads MLflow as before.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db.models import OuterRef, Subquery

from mlopsadmin.lib import mlflow_bounded as bounded
from mlopsadmin.lib import mlflow_client as mlf
from registry_ui.models import IndexedModel, IndexedRun, IndexedVersion

GONE = "gone"  # an experiment MLflow no longer has


@dataclass(frozen=True)
class GateRuns:
    """The guess and what MLflow answered for it: `run_of` version → source run id (from the index),
    `states` run id → (lifecycle stage, latest metrics, experiment id), `experiments` experiment id → its
    lifecycle stage (or GONE), `tags` the candidate version's tags (None: not read)."""

    candidate: str | None
    champion: str | None
    created: int | None  # the indexed model's creation time: a re-created model is another model
    run_of: dict[str, str] = field(default_factory=dict)
    states: dict[str, tuple[str, dict[str, float], str]] = field(default_factory=dict)
    experiments: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] | None = None

    def tags_of(self, version: str | None, created: int | None) -> dict[str, str] | None:
        """The live tags of `version` of the model created at `created`, when they were read (else None)."""
        same = version is not None and version == self.candidate and created == self.created
        return dict(self.tags) if same and self.tags is not None else None

    def covers(self, candidate: str, champion: str | None, created: int | None) -> bool:
        """True when these reads are the gate's inputs for promoting `candidate` over `champion` (live) of
        the model created at `created` (live)."""
        wanted = [candidate] + ([champion] if champion else [])
        if candidate != self.candidate or champion != self.champion or created != self.created:
            return False
        if not all(self.run_of.get(v, "") in self.states for v in wanted):
            return False
        experiment = self.states[self.run_of[candidate]][2]
        return experiment in self.experiments and self.tags is not None


def _indexed(model_name: str, versions: list[int]) -> tuple[dict[str, str], dict[str, str]]:
    """({version: source run id}, {version: its run's experiment id}) from the index, in one query."""
    experiment = IndexedRun.objects.filter(run_id=OuterRef("run_id")).values("experiment_id")[:1]
    found = list(
        IndexedVersion.objects.filter(model__name=model_name, number__in=versions)
        .annotate(experiment_id=Subquery(experiment))
        .values_list("number", "run_id", "experiment_id")
    )
    run_of = {str(number): run_id for number, run_id, _ in found if run_id}
    return run_of, {str(number): experiment_id for number, run_id, experiment_id in found if run_id and experiment_id}


class Pending:
    """The gate's reads under way: `result()` waits for them (in the caller's thread)."""

    def __init__(self, gather: Callable[[], GateRuns]) -> None:
        self.gather = gather

    def result(self) -> GateRuns:
        return self.gather()


def start(model_name: str, version: str | None, deadline: bounded.Deadline, pool: ThreadPoolExecutor) -> Pending:
    """Guess the candidate (`version`, else the indexed @challenger) and the @champion from the index (this
    thread: a few queries), then send the reads on `pool` at once (three), each within `deadline`."""
    row = IndexedModel.objects.filter(name=model_name).values_list("aliases", "creation_timestamp").first()
    aliases, created = (row[0] or {}, row[1]) if row else ({}, None)
    candidate = str(version) if version else aliases.get("challenger")
    champion = aliases.get("champion")
    numbers = [int(v) for v in (candidate, champion) if v and str(v).isdigit()]
    run_of, experiment_of = _indexed(model_name, numbers)
    guess = GateRuns(str(candidate) if candidate else None, str(champion) if champion else None, created, run_of)
    if not candidate or str(candidate) not in experiment_of:
        return Pending(lambda: guess)
    runs: Future[dict[str, tuple[str, dict[str, float], str]]] = pool.submit(
        bounded.get_runs_state,
        sorted(set(run_of.values())),
        sorted(set(experiment_of.values())),
        timeout=deadline.call_timeout(),
    )
    experiment_id = experiment_of[str(candidate)]
    stage = pool.submit(_experiment_stage, experiment_id, deadline)
    tags = pool.submit(_version_tags, model_name, str(candidate), deadline)

    def gather() -> GateRuns:
        try:
            states = runs.result()
            experiments = {experiment_id: stage.result()}
            read_tags = tags.result()
        except mlf.MlflowError:  # the gate reads MLflow itself then, and reports any failure
            return guess
        return GateRuns(guess.candidate, guess.champion, created, run_of, states, experiments, read_tags)

    return Pending(gather)


def _experiment_stage(experiment_id: str, deadline: bounded.Deadline) -> str:
    try:
        return bounded.get_experiment_stage(experiment_id, timeout=deadline.call_timeout())
    except (mlf.MlflowNotFound, mlf.MlflowInvalid):
        return GONE


def _version_tags(model_name: str, version: str, deadline: bounded.Deadline) -> dict[str, str]:
    return bounded.get_model_version_info(model_name, version, timeout=deadline.call_timeout())[2]
