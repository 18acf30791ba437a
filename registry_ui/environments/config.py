"""The configured environments (configuration file section [environments], docs/configuration.md) as
objects with a gateway handle each, and the promotion paths between them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from configuration import selectors
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.lib.mlflow_connection import basic_auth, display_uri, tracking_uri
from mlopsadmin.lib.mlflow_environments import EnvironmentHandle


@dataclass(frozen=True)
class Environment:
    """One environment. kind "server": its own tracking server; kind "prefix": model names starting with
    `prefix` in the default registry. `next`: where its versions are promoted to ("" = the end)."""

    name: str
    kind: str
    tracking_uri: str
    prefix: str
    next: str
    require_approval: bool
    metric: str
    threshold: float | None
    username_env: str = ""
    password_env: str = ""

    def model_name(self, base: str) -> str:
        """The registered model name of model `base` in this environment (`prod.` + base for a prefix)."""
        return f"{self.prefix}{base}" if self.kind == "prefix" else base

    def handle(self) -> EnvironmentHandle:
        """The gateway handle: the server's URI with credentials read now from the NAMED variables (a
        prefix environment uses the default server and service account)."""
        if self.kind == "prefix":
            return EnvironmentHandle(self.name, tracking_uri(), basic_auth(), default=True)
        user = os.environ.get(self.username_env, "") if self.username_env else ""
        password = os.environ.get(self.password_env, "") if self.password_env else ""
        if user:
            account = f"environment {self.name}'s service account {user!r} ({self.username_env} / {self.password_env})"
        else:
            account = f"environment {self.name}, sent without credentials (set its username_env / password_env)"
        return EnvironmentHandle(self.name, self.tracking_uri, (user, password) if user else None, account=account)

    @property
    def display_uri(self) -> str:
        return self.handle().display_uri


def _build(name: str, spec: dict[str, Any]) -> Environment:
    return Environment(
        name=name,
        kind=spec.get("kind", "server"),
        tracking_uri=spec.get("tracking_uri", ""),
        prefix=spec.get("prefix", ""),
        next=spec.get("next", ""),
        require_approval=bool(spec.get("require_approval", False)),
        metric=spec.get("metric", ""),
        threshold=spec.get("threshold"),
        username_env=spec.get("username_env", ""),
        password_env=spec.get("password_env", ""),
    )


def environments() -> list[Environment]:
    """Every configured environment, in promotion order (each path from its start), then the rest."""
    specs = selectors.environments()
    targets = {spec.get("next") for spec in specs.values()}
    ordered: list[str] = []
    for start in sorted(n for n in specs if n not in targets):
        current = start
        while current in specs and current not in ordered:
            ordered.append(current)
            current = specs[current].get("next", "")
    ordered += sorted(n for n in specs if n not in ordered)
    return [_build(name, specs[name]) for name in ordered]


def environment(name: str) -> Environment:
    """The environment called `name`; InvalidInput (400) when none is configured under that name."""
    for env in environments():
        if env.name == name:
            return env
    raise InvalidInput(f"No environment {name!r} is configured (configuration file, [environments]).")


def next_environment(env: Environment) -> Environment:
    """The environment `env` promotes to; InvalidInput when `env` is the end of its path."""
    if not env.next:
        raise InvalidInput(f"Environment {env.name!r} is the end of its promotion path (no `next`).")
    return environment(env.next)


def previous_environment(env: Environment) -> Environment | None:
    """The environment that promotes into `env` (at most one: configuration.rules), or None at a start."""
    return next((e for e in environments() if e.next == env.name), None)


def environment_of(model_name: str) -> tuple[Environment, str] | None:
    """(environment, base model name) of registered model `model_name` of the DEFAULT registry: the prefix
    environment whose prefix it starts with (the longest wins), else the server environment that is the
    default tracking server (its names are the base names); None when no environment covers it."""
    envs = environments()
    prefixed = [e for e in envs if e.kind == "prefix" and e.prefix and model_name.startswith(e.prefix)]
    if prefixed:
        env = max(prefixed, key=lambda e: len(e.prefix))
        return env, model_name[len(env.prefix) :]
    default = display_uri(tracking_uri()).rstrip("/")
    for env in envs:
        if env.kind == "server" and display_uri(env.tracking_uri).rstrip("/") == default:
            return env, model_name
    return None


def approval_key_parts(key: str) -> tuple[Environment, str] | None:
    """(target environment, base model name) of an environment approval key ('<env>:<model there>',
    services.approval_key), or None when `key` is a plain model name (MLflow names hold no ':')."""
    env_name, sep, name = key.partition(":")
    if not sep:
        return None
    for env in environments():
        if env.name == env_name:
            base = name[len(env.prefix) :] if env.kind == "prefix" and name.startswith(env.prefix) else name
            return env, base
    return None
