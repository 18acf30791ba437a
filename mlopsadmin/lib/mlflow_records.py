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
    is (MLflow 3 checkpoints). MLflow keeps no time for param or tag writes."""

    run_id: str
    last_metric_time: int | None = None
    last_model_time: int | None = None


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


def experiment_record(e: Any) -> Experiment:
    return Experiment(
        experiment_id=str(e.experiment_id),
        name=e.name,
        lifecycle_stage=e.lifecycle_stage,
        artifact_location=e.artifact_location or "",
        tags=dict(e.tags or {}),
        creation_time=e.creation_time,
        last_update_time=e.last_update_time,
    )


def run_record(r: Any) -> Run:
    info, data = r.info, r.data
    # `data.metrics` holds latest values; timestamps come from the raw metric objects when present.
    metric_timestamps = {m.key: int(m.timestamp) for m in getattr(data, "_metric_objs", []) or []}
    return Run(
        run_id=info.run_id,
        experiment_id=str(info.experiment_id),
        run_name=info.run_name or "",
        status=info.status,
        start_time=info.start_time,
        end_time=info.end_time,
        lifecycle_stage=info.lifecycle_stage,
        artifact_uri=info.artifact_uri or "",
        tags=dict(data.tags or {}),
        params=dict(data.params or {}),
        metrics=dict(data.metrics or {}),
        metric_timestamps=metric_timestamps,
    )


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


def model_record(m: Any) -> RegisteredModel:
    versions = [int(v.version) for v in (m.latest_versions or [])]
    return RegisteredModel(
        name=m.name,
        description=m.description or "",
        creation_timestamp=m.creation_timestamp,
        last_updated_timestamp=m.last_updated_timestamp,
        tags=dict(m.tags or {}),
        aliases={str(alias): str(version) for alias, version in (m.aliases or {}).items()},
        latest_version=str(max(versions)) if versions else None,
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
