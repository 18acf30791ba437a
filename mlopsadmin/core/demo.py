"""Realistic demo data, written through the MLflow gateway into a real tracking server.

Idempotent: experiments, runs and models that already exist are left alone, so `seed_demo` can run on
every start. Deterministic: a fixed random seed, times relative to now.
"""

from __future__ import annotations

import logging
import random
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User

from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.models import Team
from mlopsadmin.lib import mlflow_client as mlf
from mlopsadmin.lib import mlflow_support

logger = logging.getLogger(__name__)

DAY_MS = 86_400_000
DEMO_PASSWORD = "demo-password-123"
DEMO_MARKER_TAG = "mlopsadmin.demo"
REQUIRED_RUN_TAGS = ["team", "owner", "git.commit", "data.version", "environment", "purpose"]

DEMO_CONFIG = Path(__file__).with_name("demo_config.toml")


def demo_users() -> dict[str, dict[str, Any]]:
    """The demo's people as written in demo_config.toml: username → {email, roles, teams, ...}."""
    return tomllib.loads(DEMO_CONFIG.read_text(encoding="utf-8"))["users"]


@dataclass
class ExperimentSpec:
    name: str
    team: str | None  # the `team` tag its runs carry (None: runs carry no team tag)
    runs: int
    tag_coverage: float = 1.0  # share of runs with all required tags
    running: int = 0  # RUNNING runs started days ago that never ended
    keep: int = 0  # old FAILED runs tagged keep=true


EXPERIMENTS = [
    ExperimentSpec("/search-team/query-ranking/bert-finetune", "search", 14, 0.85, running=1, keep=1),
    ExperimentSpec("/search-team/query-ranking/scheduled-retrain", "search", 8, 1.0),
    ExperimentSpec("/search-team/autocomplete/lstm-baseline", "search", 6, 0.5),
    ExperimentSpec("/fraud-team/transaction-classifier/xgboost-baseline", "fraud", 12, 0.9, running=1, keep=1),
    ExperimentSpec("/fraud-team/transaction-classifier/feature-sweep", "fraud", 10, 0.6, running=1),
    ExperimentSpec("/rec-team/item2vec/hyperopt-sweep", "recommendation", 12, 0.75),
    ExperimentSpec("/churn-team/churn-model/weekly-retrain", "churn", 8, 1.0),
    # names that break the convention
    ExperimentSpec("/recommendation/item2vec/hyperopt-sweep", "recommendation", 5, 0.4),  # unknown prefix
    ExperimentSpec("experiment_1", None, 4, 0.0),  # flat
    ExperimentSpec("test_model", "search", 4, 0.25),  # flat, reserved word
    ExperimentSpec("johns_experiment", "fraud", 5, 0.2, running=1),  # flat (a person's name)
    ExperimentSpec("/search-team/QueryRanking", "search", 3, 0.3),  # wrong segments, casing
    ExperimentSpec("/fraud-team/tmp/test", "fraud", 3, 0.0),  # reserved words
]


@dataclass
class ModelSpec:
    name: str
    experiment: str
    scores: list[float]  # gate metric of each version's run, oldest first
    aliases: dict[str, int] = field(default_factory=dict)  # alias -> version number


MODELS = [
    ModelSpec(
        "search-ranker",
        "/search-team/query-ranking/bert-finetune",
        [0.812, 0.846, 0.861],
        {"previous-champion": 1, "champion": 2, "challenger": 3},
    ),
    ModelSpec(
        "fraud-detector",
        "/fraud-team/transaction-classifier/xgboost-baseline",
        [0.83, 0.79],
        {"champion": 1, "challenger": 2},
    ),
    ModelSpec("recommendation-item2vec", "/rec-team/item2vec/hyperopt-sweep", [0.80, 0.825], {"champion": 2}),
    ModelSpec("churn-predictor", "/churn-team/churn-model/weekly-retrain", [0.88], {}),
    ModelSpec("xgboost-fraud-v3", "/fraud-team/transaction-classifier/feature-sweep", [0.77], {}),
    ModelSpec("bert-search-ranking-2026", "/search-team/autocomplete/lstm-baseline", [0.81], {}),
]


@dataclass
class SeedReport:
    teams: int = 0
    users: int = 0
    experiments_created: int = 0
    runs_created: int = 0
    models_created: int = 0
    versions_created: int = 0
    skipped: list[str] = field(default_factory=list)


def seed_users_and_teams(report: SeedReport) -> None:
    """Apply demo_config.toml (teams, people, naming, gates, cleanup, schedules) through apply_config's
    service, then give each demo user without a password the demo password (one audit event each)."""
    from configuration.services import config_apply

    config_apply(actor="system:seed_demo", text=DEMO_CONFIG.read_text(encoding="utf-8"), source="demo_config.toml")
    users = demo_users()
    report.teams = Team.objects.count()
    report.users = len(users)
    for user in User.objects.filter(username__in=users):
        if not user.has_usable_password():
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
            audit_record(
                actor="system:seed_demo",
                action="user.update",
                target_kind="user",
                target_id=user.username,
                after={"password_changed": True},
            )


def _run_tags(rng: random.Random, spec: ExperimentSpec, compliant: bool) -> dict[str, str]:
    tags = {
        "team": spec.team or "",
        "owner": rng.choice(["jane.doe@company.com", "li.wei@company.com", "sam.k@company.com"]),
        "git.commit": f"{rng.getrandbits(40):010x}",
        "data.version": f"v2026.{rng.randint(1, 10):02d}.{rng.randint(1, 28):02d}",
        "environment": rng.choice(["gpu-cluster-a100", "cpu-batch", "laptop"]),
        "purpose": rng.choice(["hyperparameter-sweep", "scheduled-retrain", "baseline"]),
    }
    if not spec.team:
        tags.pop("team")
    if not compliant:
        for key in rng.sample(REQUIRED_RUN_TAGS, k=rng.randint(1, 4)):
            tags.pop(key, None)
    return tags


def _metrics(
    rng: random.Random, start_ms: int, final_score: float, epochs: int = 10
) -> list[tuple[str, float, int, int]]:
    points = []
    for step in range(epochs):
        progress = (step + 1) / epochs
        ts = start_ms + (step + 1) * 60_000
        points.append(("train_loss", round(1.2 * (1 - progress) + 0.15 + rng.random() * 0.03, 4), ts, step))
        points.append(("val_ndcg_at_10", round(final_score - (1 - progress) * 0.2 + rng.random() * 0.004, 4), ts, step))
    # the final value of the gate metric is exactly the intended score
    points[-1] = ("val_ndcg_at_10", final_score, start_ms + epochs * 60_000, epochs - 1)
    return points


def _create_run(
    rng: random.Random,
    experiment_id: str,
    spec: ExperimentSpec,
    index: int,
    now_ms: int,
    *,
    status: str,
    age_days: float,
    compliant: bool,
    extra_tags: dict[str, str] | None = None,
    score: float | None = None,
    with_model_score: float | None = None,
) -> tuple[str, str | None]:
    start_ms = int(now_ms - age_days * DAY_MS)
    tags = {**_run_tags(rng, spec, compliant), **(extra_tags or {})}
    run_id = mlf.create_run(
        experiment_id, run_name=f"{spec.name.strip('/').split('/')[-1]}-{index:03d}", tags=tags, start_time=start_ms
    )
    final = score if score is not None else round(rng.uniform(0.70, 0.86), 4)
    metrics = _metrics(rng, start_ms, final)
    if status == "RUNNING":
        metrics = metrics[:4]  # it logged a little, then its process died
    mlf.log_batch(
        run_id,
        metrics=metrics,
        params={
            "learning_rate": rng.choice(["2e-5", "3e-5", "1e-4"]),
            "batch_size": rng.choice(["32", "64"]),
            "max_epochs": "10",
            "optimizer": "AdamW",
        },
    )
    model_uri = mlflow_support.log_constant_model(run_id, score=final) if with_model_score is not None else None
    if status != "RUNNING":
        mlf.set_terminated(run_id, status=status, end_time=start_ms + 11 * 60_000)
    return run_id, model_uri


def seed_experiment(rng: random.Random, spec: ExperimentSpec, now_ms: int, report: SeedReport) -> None:
    if mlf.get_experiment_by_name(spec.name) is not None:
        report.skipped.append(spec.name)
        return
    experiment_id = mlf.create_experiment(spec.name, tags={DEMO_MARKER_TAG: "true"})
    report.experiments_created += 1
    plain_runs = spec.runs - spec.running - spec.keep
    for index in range(plain_runs):
        status = rng.choices(["FINISHED", "FAILED", "KILLED"], weights=[6, 3, 1])[0]
        _create_run(
            rng,
            experiment_id,
            spec,
            index,
            now_ms,
            status=status,
            age_days=rng.uniform(1, 360),
            compliant=rng.random() < spec.tag_coverage,
        )
        report.runs_created += 1
    for index in range(spec.running):
        _create_run(
            rng, experiment_id, spec, 100 + index, now_ms, status="RUNNING", age_days=rng.uniform(3, 20), compliant=True
        )
        report.runs_created += 1
    for index in range(spec.keep):
        _create_run(
            rng,
            experiment_id,
            spec,
            200 + index,
            now_ms,
            status="FAILED",
            age_days=rng.uniform(150, 300),
            compliant=True,
            extra_tags={"keep": "true" if index % 2 == 0 else "True"},
        )
        report.runs_created += 1


def seed_model(rng: random.Random, spec: ModelSpec, now_ms: int, report: SeedReport) -> None:
    try:
        mlf.get_registered_model(spec.name)
        report.skipped.append(spec.name)
        return
    except mlf.MlflowNotFound:
        pass
    experiment = mlf.get_experiment_by_name(spec.experiment)
    if experiment is None:
        raise RuntimeError(f"seed order: experiment {spec.experiment} is missing")
    exp_spec = next(e for e in EXPERIMENTS if e.name == spec.experiment)
    mlf.create_registered_model(spec.name, description=f"Demo model of team {exp_spec.team}.")
    report.models_created += 1
    for number, score in enumerate(spec.scores, start=1):
        # Versions are backed by old runs too: cleanup must never delete them, tag or no tag.
        age = 200 - number * 45
        run_id, model_uri = _create_run(
            rng,
            experiment.experiment_id,
            exp_spec,
            300 + number,
            now_ms,
            status="FINISHED",
            age_days=age,
            compliant=True,
            score=score,
            with_model_score=score,
        )
        version = mlf.register_model_version(spec.name, str(model_uri))
        commit = mlf.get_run(run_id).tags.get("git.commit", "")
        tags = {
            "training_data": f"s3://data/{exp_spec.team}/2026-q{1 + number % 4}/",
            "training_commit": commit,
            "validation_ndcg": f"{score:.3f}",  # the operations guide's key
        }
        if number % 2 == 0:  # some versions lack metadata, as in real registries
            del tags["training_commit"]
        for key, value in tags.items():
            mlf.set_model_version_tag(spec.name, version.version, key, value)
        report.versions_created += 1
        report.runs_created += 1
    for alias, number in spec.aliases.items():
        mlf.set_model_alias(spec.name, alias, number)


def seed_demo(*, with_users: bool = True) -> SeedReport:
    report = SeedReport()
    if with_users:
        seed_users_and_teams(report)
    rng = random.Random(20261127)
    now_ms = int(time.time() * 1000)
    for spec in EXPERIMENTS:
        seed_experiment(rng, spec, now_ms, report)
    for model in MODELS:
        seed_model(rng, model, now_ms, report)
    return report


def demo_summary() -> dict[str, Any]:
    logins = {}
    for username, user in demo_users().items():
        roles, teams = user.get("roles", []), user.get("teams", [])
        what = roles[0] if roles else "member"
        logins[username] = f"{what} of {', '.join(teams)}" if teams else (roles[0] if roles else "no team")
    return {"teams": list(Team.objects.values_list("name", flat=True)), "password": DEMO_PASSWORD, "logins": logins}


def seed_capacity_history(*, days: int = 4) -> int | None:
    """Measure capacity now (a real check of the demo's store, database and teams), then, when no older
    samples exist, add one sample per scope and key for each of the `days` days before, scaled down from
    today's real figures (marked {"demo_backfill": true}), so the growth charts have points to draw.
    Returns the task run id of the real check (None when one was already running)."""
    from datetime import timedelta

    from django.utils import timezone

    from maintenance.capacity.check import capacity_check_start
    from maintenance.models import CapacitySample, TaskKind, TaskRun, TaskState
    from maintenance.tasks import task_run_execute
    from mlopsadmin.core.errors import Conflict

    try:
        run = capacity_check_start(actor="system:seed_demo")
    except Conflict:
        return None
    task_run_execute(task_run_id=run.pk)
    if CapacitySample.objects.filter(measured_at__lt=timezone.now() - timedelta(hours=20)).exists():
        return run.pk
    today = list(CapacitySample.objects.filter(task_run_id=run.pk))
    for back in range(days, 0, -1):
        when = timezone.now() - timedelta(days=back)
        past = TaskRun.objects.create(
            kind=TaskKind.CAPACITY,
            started_by="system:seed_demo",
            state=TaskState.SUCCEEDED,
            created_at=when,
            started_at=when,
            finished_at=when,
            parameters={"demo_backfill": True},
        )
        share = 1 - 0.12 * back  # grew ~12 % of today's size per day
        CapacitySample.objects.bulk_create(
            CapacitySample(
                task_run=past,
                measured_at=when,
                scope=s.scope,
                key=s.key,
                label=s.label,
                team=s.team,
                store=s.store,
                size_bytes=None if s.size_bytes is None else int(s.size_bytes * share),
                object_count=None if s.object_count is None else int(s.object_count * share),
                detail={**(s.detail or {}), "demo_backfill": True},
            )
            for s in today
        )
    return run.pk
