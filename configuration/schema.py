"""The shape of the configuration file (docs/configuration.md), validated with pydantic: unknown keys,
wrong types and out-of-range values are refused with their location. Cross-field rules (teams that
exist, ownership ties, valid regular expressions and crons) are in configuration.rules."""

from __future__ import annotations

from typing import Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field

from catalog import naming as catalog_naming
from registry_ui import naming as registry_naming

Status = Literal["FAILED", "KILLED", "FINISHED"]


class Strict(BaseModel):
    # TOML has nan and inf: a threshold of nan passes every comparison, and the stored JSON refuses it
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class TeamSpec(Strict):
    display_name: str = Field("", max_length=128)
    experiment_prefix: str = Field(max_length=64)
    models: list[str] = Field(default_factory=list, description="Registered model names owned explicitly.")
    model_patterns: list[str] = Field(default_factory=list, description="Globs (* and ?) over model names.")
    model_regex: str = Field("", max_length=256, description="Legacy regular expression, lowest precedence.")


class UserSpec(Strict):
    email: str = Field("", max_length=254)
    active: bool = True
    roles: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list, description="Memberships with edit rights.")
    read_only_teams: list[str] = Field(default_factory=list, description="Memberships without edit rights.")


class GateSpec(Strict):
    metric: str | None = Field(None, max_length=250)
    threshold: float | None = None
    max_drop_pct: float | None = Field(None, ge=0, le=100)
    require_approval: bool | None = None
    # A model's own policy only (gate.models): "" = from the metric's name (registry_ui.metric_direction).
    direction: Literal["", "higher", "lower"] | None = None
    count_imported_approvals: bool | None = None


class GateSection(Strict):
    default: GateSpec = Field(default_factory=lambda: GateSpec.model_validate({}))
    teams: dict[str, GateSpec] = Field(default_factory=dict)
    models: dict[str, GateSpec] = Field(default_factory=dict)


class ExperimentNaming(Strict):
    segment_pattern: str = Field(catalog_naming.DEFAULT_SEGMENT_PATTERN, max_length=200)
    reserved_words: list[str] = Field(default_factory=lambda: list(catalog_naming.DEFAULT_RESERVED_WORDS))


class ModelNaming(Strict):
    algorithm_words: list[str] = Field(default_factory=lambda: list(registry_naming.DEFAULT_ALGORITHM_WORDS))
    reserved_words: list[str] = Field(default_factory=lambda: list(registry_naming.DEFAULT_RESERVED_WORDS))


class NamingSection(Strict):
    experiments: ExperimentNaming = Field(default_factory=lambda: ExperimentNaming.model_validate({}))
    models: ModelNaming = Field(default_factory=lambda: ModelNaming.model_validate({}))


class RequiredKey(Strict):
    key: str = Field(min_length=1, max_length=250)
    description: str = Field("", max_length=200)


class CleanupSection(Strict):
    older_than_days: int = Field(default_factory=lambda: int(settings.MAINTENANCE_CLEANUP_DEFAULT_DAYS), ge=0, le=36500)
    statuses: list[Status] = Field(default_factory=lambda: list[Status](["FAILED", "KILLED"]), min_length=1)
    keep_values: list[str] = Field(default_factory=lambda: ["true"], min_length=1)


class MetricsSection(Strict):
    """Metric direction by exact name (case-insensitive for lower_is_better); names not listed go by their
    words (loss, error, latency... are lower-is-better). Defaults: METRICS_LOWER/HIGHER_IS_BETTER."""

    lower_is_better: list[str] = Field(default_factory=lambda: list(settings.METRICS_LOWER_IS_BETTER))
    higher_is_better: list[str] = Field(default_factory=lambda: list(settings.METRICS_HIGHER_IS_BETTER))


class NotificationSection(Strict):
    emails: list[str] = Field(default_factory=list)


class EnvironmentSpec(Strict):
    """One environment (issue 22): its own tracking server (`tracking_uri`; credentials come from the
    process environment variables NAMED by username_env / password_env, never from this file), or a name
    prefix inside the default registry (`prefix`, e.g. "prod."). `next`: the environment a version is
    promoted to from here (the promotion path). The gate of the TARGET environment applies to a copy."""

    kind: Literal["server", "prefix"]
    tracking_uri: str = Field("", max_length=1000)
    username_env: str = Field("", max_length=100, pattern=r"^([A-Z_][A-Z0-9_]*)?$")
    password_env: str = Field("", max_length=100, pattern=r"^([A-Z_][A-Z0-9_]*)?$")
    prefix: str = Field("", max_length=64)
    next: str = Field("", max_length=64)
    require_approval: bool = False
    metric: str = Field("", max_length=250)
    threshold: float | None = None


class ConfigFile(Strict):
    """Top-level sections. A section present in the file is the whole truth for what it holds; a section
    left out is left as it is (see docs/configuration.md)."""

    version: Literal[1] = 1
    teams: dict[str, TeamSpec] = Field(default_factory=dict)
    users: dict[str, UserSpec] = Field(default_factory=dict)
    naming: NamingSection = Field(default_factory=NamingSection)
    required_run_tags: list[str] = Field(default_factory=lambda: list(catalog_naming.DEFAULT_REQUIRED_TAGS))
    required_version_metadata: list[RequiredKey] = Field(default_factory=list)
    metrics: MetricsSection = Field(default_factory=MetricsSection)
    gate: GateSection = Field(default_factory=GateSection)
    cleanup: CleanupSection = Field(default_factory=CleanupSection)
    schedules: dict[str, str] = Field(default_factory=dict)
    notifications: NotificationSection = Field(default_factory=NotificationSection)
    environments: dict[str, EnvironmentSpec] = Field(default_factory=dict)
