"""Plain records of MLflow entities: frozen dataclasses the rest of mlopsadmin reads (never MLflow's own
entity classes). Alias versions are always `str`.

Part of the MLflow gateway (`mlopsadmin/lib/mlflow_client.py` is its public face); the `*_record`
converters are used by the gateway modules only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    lifecycle_stage: str
    artifact_location: str
    tags: dict[str, str]
    creation_time: int | None
    last_update_time: int | None

    @property
    def is_deleted(self) -> bool:
        return self.lifecycle_stage == "deleted"


@dataclass(frozen=True)
class Run:
    run_id: str
    experiment_id: str
    run_name: str
    status: str
    start_time: int | None
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    metric_timestamps: dict[str, int] = field(default_factory=dict)
    # backend-store listings read only the newest of the latest-metric timestamps, not each key's
    latest_metric_time: int | None = None

    @classmethod
    def from_store(
        cls,
        run_id: str,
        experiment_id: object,
        name: str | None,
        status: str,
        start_time: int | None,
        end_time: int | None,
        *,
        tags: dict[str, str],
        latest_metric_time: int | None,
        lifecycle_stage: str = "active",
        artifact_uri: str | None = "",
    ) -> Run:
        """A run read from MLflow's backend store tables (mlflow_store): the experiment id as text, a
        missing name or artifact location as "", the newest latest-metric timestamp only."""
        return cls(
            run_id=run_id,
            experiment_id=str(experiment_id),
            run_name=name or "",
            status=status,
            start_time=start_time,
            end_time=end_time,
            lifecycle_stage=lifecycle_stage,
            artifact_uri=artifact_uri or "",
            tags=tags,
            latest_metric_time=latest_metric_time,
        )

    @property
    def last_metric_time(self) -> int | None:
        """The newest timestamp among the metric values MLflow returns with the run (each key's latest,
        i.e. highest-step, value), None when it has no metric."""
        return max(self.metric_timestamps.values(), default=self.latest_metric_time)


@dataclass(frozen=True)
class RunActivity:
    """When a run last did something, beyond its start and end time (ms since the epoch, None when never):
    the newest timestamp among ALL its metric values (MLflow's "latest" metric of a key is the highest
    step, not the newest write) and the newest creation/update time of a logged model whose source run it
    is (MLflow 3 checkpoints), and the newest end of a trace recorded in it (MLflow 3 GenAI runs: a trace's
    `mlflow.sourceRun` metadata names its run). MLflow keeps no time for param or tag writes."""

    run_id: str
    last_metric_time: int | None = None
    last_model_time: int | None = None
    last_trace_time: int | None = None


@dataclass(frozen=True)
class MetricPoint:
    step: int
    value: float
    timestamp: int


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    run_id: str
    source: str
    status: str
    current_stage: str
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    description: str
    tags: dict[str, str]
    aliases: list[str]


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    description: str
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    tags: dict[str, str]
    aliases: dict[str, str]  # alias -> version (always str)
    latest_version: str | None


def version_record(v: Any) -> ModelVersion:
    return ModelVersion(
        name=v.name,
        version=str(v.version),
        run_id=v.run_id or "",
        source=v.source or "",
        status=str(v.status or ""),
        current_stage=str(v.current_stage or ""),
        creation_timestamp=v.creation_timestamp,
        last_updated_timestamp=v.last_updated_timestamp,
        description=v.description or "",
        tags=dict(v.tags or {}),
        aliases=sorted(v.aliases or []),
    )


@dataclass
class PurgeResult:
    """What a purge did. `hard_deleted`: run ids removed from the store; `bytes_freed`: measured artifact
    bytes (listed before minus after); `unmeasured`: runs whose artifacts could not be listed (their bytes
    are not in `bytes_freed`); `skipped`: {run_id: why it was left alone}; `surprise`: set when the store
    lost something outside the given runs (the purge stopped there)."""

    hard_deleted: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    unmeasured: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    surprise: str = ""


# --- From MLflow's REST answers (JSON), as mlflow_rest returns them ---------------------------------------
def _pairs(items: Any) -> dict[str, str]:
    """[{key, value}, ...] -> {key: value} (tags and params of MLflow's JSON)."""
    return {str(i["key"]): str(i.get("value", "")) for i in items or []}


def _number(value: Any) -> float:
    """A metric value from JSON: a number, or "NaN" / "Infinity" / "-Infinity" as MLflow writes them."""
    return float(value)


def _int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def experiment_from_json(e: dict[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=str(e["experiment_id"]),
        name=str(e.get("name", "")),
        lifecycle_stage=str(e.get("lifecycle_stage", "active")),
        artifact_location=str(e.get("artifact_location") or ""),
        tags=_pairs(e.get("tags")),
        creation_time=_int(e.get("creation_time")),
        last_update_time=_int(e.get("last_update_time")),
    )


def run_from_json(r: dict[str, Any]) -> Run:
    """A run of search_runs / get_run: `data.metrics` holds each metric's latest value and timestamp."""
    info, data = r.get("info", {}), r.get("data", {})
    metrics = data.get("metrics") or []
    return Run(
        run_id=str(info.get("run_id") or info.get("run_uuid")),
        experiment_id=str(info.get("experiment_id", "")),
        run_name=str(info.get("run_name") or ""),
        status=str(info.get("status", "")),
        start_time=_int(info.get("start_time")),
        end_time=_int(info.get("end_time")),
        lifecycle_stage=str(info.get("lifecycle_stage", "active")),
        artifact_uri=str(info.get("artifact_uri") or ""),
        tags=_pairs(data.get("tags")),
        params=_pairs(data.get("params")),
        metrics={str(m["key"]): _number(m.get("value", "NaN")) for m in metrics},
        metric_timestamps={str(m["key"]): int(m.get("timestamp", 0)) for m in metrics},
    )


def version_from_json(v: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=str(v["name"]),
        version=str(v["version"]),
        run_id=str(v.get("run_id") or ""),
        source=str(v.get("source") or ""),
        status=str(v.get("status") or ""),
        current_stage=str(v.get("current_stage") or ""),
        creation_timestamp=_int(v.get("creation_timestamp")),
        last_updated_timestamp=_int(v.get("last_updated_timestamp")),
        description=str(v.get("description") or ""),
        tags=_pairs(v.get("tags")),
        aliases=sorted(str(a) for a in v.get("aliases") or []),
    )


def model_from_json(m: dict[str, Any]) -> RegisteredModel:
    versions = [int(v["version"]) for v in m.get("latest_versions") or []]
    return RegisteredModel(
        name=str(m["name"]),
        description=str(m.get("description") or ""),
        creation_timestamp=_int(m.get("creation_timestamp")),
        last_updated_timestamp=_int(m.get("last_updated_timestamp")),
        tags=_pairs(m.get("tags")),
        aliases={str(a["alias"]): str(a["version"]) for a in m.get("aliases") or []},
        latest_version=str(max(versions)) if versions else None,
    )
