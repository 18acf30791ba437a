"""Walk every URL of the installation (Django's resolver) and every operation of the OpenAPI document,
sending mutating requests, and judge the answers. Generic on purpose: URLs added by any feature are
picked up without changes here.

A request "succeeded" (bad, for a read-only user) when it answered 2xx, or redirected anywhere but a
login page. 404/405/400/403/409/422/503 are refusals or "nothing to act on" and are tolerated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.apps import apps
from django.conf import settings
from django.contrib.messages import constants as message_levels
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.exceptions import NoReverseMatch, Resolver404

MUTATING = ("post", "put", "patch", "delete")
# Authenticating oneself is not a change of the system: these accept anyone's POST by design.
SELF_SERVICE = {"login", "logout", "admin:login", "admin:logout"}
# Sessions change with logins and idle-timeout refreshes (force_login); they are not state.
IGNORED_TABLES = {"django_session"}

# Values tried for a URL parameter, first match of the parameter's pattern wins. Names steer the
# choice so that real demo objects are hit where possible (MLflow demo data, persona ids).
_BY_NAME = [
    ("kind", "model_version"),
    ("target", "search-ranker/1"),
    ("version", "1"),
    ("model", "search-ranker"),
    ("name", "search-ranker"),
    ("app_label", "core"),
    ("experiment", "1"),
    ("run", "0123456789abcdef"),
    ("alias", "champion"),
    ("path", "css/app.css"),
    ("url", "core/team/1/change/"),
]
_GENERIC = ["1", "search-ranker", "search-ranker/1", "core", "x", "00000000-0000-0000-0000-000000000001"]


@dataclass
class Target:
    path: str
    name: str  # namespaced url name, or the route when unnamed


@dataclass
class Finding:
    method: str
    path: str
    name: str
    status: int
    location: str = ""

    def __str__(self) -> str:
        where = f" -> {self.location}" if self.location else ""
        return f"{self.method.upper()} {self.path} ({self.name}): {self.status}{where}"


@dataclass
class WalkResult:
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # "METHOD path" → status
    successes: list[Finding] = field(default_factory=list)
    server_errors: list[Finding] = field(default_factory=list)
    unbuildable: list[str] = field(default_factory=list)


# --- URL patterns → concrete paths ------------------------------------------------------------------
def _iter_patterns(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    for pattern in patterns:
        regex = pattern.pattern.regex.pattern.lstrip("^")
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _iter_patterns(pattern.url_patterns, prefix + regex, ns)
        elif isinstance(pattern, URLPattern):
            yield prefix + regex, f"{namespace}{pattern.name}" if pattern.name else prefix + regex


def _group_end(regex: str, start: int) -> int:
    depth = 0
    i = start
    while i < len(regex):
        char = regex[i]
        if char == "\\":
            i += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unbalanced group in {regex!r}")


def _value_for(name: str, inner: str) -> str | None:
    compiled = re.compile(inner)
    candidates = [value for key, value in _BY_NAME if key in name.lower()] + _GENERIC
    return next((c for c in candidates if compiled.fullmatch(c)), None)


def path_from_regex(regex: str) -> str | None:
    """A concrete path for a (joined) URL regex, or None if a parameter cannot be filled."""
    out, i = [], 0
    regex = regex.replace("\\Z", "").rstrip("$")
    while i < len(regex):
        if regex.startswith("(?P<", i):
            end = _group_end(regex, i)
            name = regex[i + 4 : regex.index(">", i)]
            value = _value_for(name, regex[regex.index(">", i) + 1 : end])
            if value is None:
                return None
            out.append(value)
            i = end + 1
        elif regex[i] == "\\" and i + 1 < len(regex):
            out.append(regex[i + 1])
            i += 2
        elif regex[i] in "^$":
            i += 1
        else:
            out.append(regex[i])
            i += 1
    return "/" + "".join(out)


def url_targets() -> tuple[list[Target], list[str]]:
    targets, unbuildable, seen = [], [], set()
    for regex, name in _iter_patterns(get_resolver().url_patterns):
        path = path_from_regex(regex)
        if path is None:
            unbuildable.append(name)
            continue
        try:
            resolve(path)
        except Resolver404:
            unbuildable.append(name)
            continue
        if path not in seen:
            seen.add(path)
            targets.append(Target(path, name))
    return targets, unbuildable


# --- Judging answers --------------------------------------------------------------------------------
def _login_paths() -> set[str]:
    paths = set()
    for name in (settings.LOGIN_URL, "admin:login"):
        try:
            paths.add(reverse(name))
        except NoReverseMatch:
            paths.add(name)
    return paths


def _queued_messages(response: Any) -> list[Any]:
    storage = getattr(getattr(response, "wsgi_request", None), "_messages", None)
    return list(getattr(storage, "_queued_messages", []) or [])


def is_success(response: Any) -> bool:
    """2xx, or a redirect that is neither to a login page nor a refusal (only warning/error messages)."""
    if 200 <= response.status_code < 300:
        return True
    if 300 <= response.status_code < 400:
        location = response.get("Location", "").split("?")[0]
        if location in _login_paths():
            return False
        queued = _queued_messages(response)
        refused = bool(queued) and all(m.level >= message_levels.WARNING for m in queued)
        return not refused
    return False


def table_counts() -> dict[str, int]:
    counts = {}
    for model in apps.get_models():
        table = model._meta.db_table
        if table not in IGNORED_TABLES and not model._meta.proxy and model._meta.managed:
            counts[table] = model._default_manager.using("default").order_by().count()
    return counts


def _judge(result: WalkResult, method: str, path: str, name: str, response: Any) -> None:
    result.requests += 1
    result.statuses[f"{method.upper()} {path}"] = response.status_code
    said = "; ".join(str(m) for m in _queued_messages(response))
    finding = Finding(
        method, path, name, response.status_code, response.get("Location", "") + (f" [{said}]" if said else "")
    )
    if is_success(response):
        result.successes.append(finding)
    elif response.status_code == 500:
        result.server_errors.append(finding)


def walk_urls(client: Any, user: Any, *, exclude_prefixes: tuple[str, ...] = ("/api/",)) -> WalkResult:
    """Every URL pattern × every mutating method, as `user` (logged in again before each request)."""
    result = WalkResult()
    targets, result.unbuildable = url_targets()
    for target in targets:
        if target.name in SELF_SERVICE or target.path.startswith(exclude_prefixes):
            continue
        for method in MUTATING:
            client.force_login(user)
            response = getattr(client, method)(target.path)
            _judge(result, method, target.path, target.name, response)
    return result


# --- OpenAPI operations -----------------------------------------------------------------------------
def _resolve_ref(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def example_for(schema: dict[str, Any], document: dict[str, Any], name: str = "", depth: int = 0) -> Any:
    """A minimal valid-looking value for a JSON schema: required properties filled, sensible scalars."""
    schema = _resolve_ref(schema or {}, document)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if _resolve_ref(o, document).get("type") != "null"]
            return example_for(options[0] if options else {}, document, name, depth)
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if kind == "object":
        if depth > 4:
            return {}
        props = schema.get("properties", {})
        return {
            key: example_for(props[key], document, key, depth + 1) for key in schema.get("required", []) if key in props
        }
    if kind == "array":
        return [example_for(schema.get("items", {}), document, name, depth + 1)] if schema.get("minItems") else []
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if schema.get("format") == "date-time":
        return "2026-01-01T00:00:00Z"
    value = _value_for(name, schema.get("pattern", ".*")) or "x"
    return value.ljust(int(schema.get("minLength", 0)), "x")


def api_operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for template, item in document.get("paths", {}).items():
        for method in MUTATING:
            if method in item:
                yield method, template, item[method]


def walk_api(client: Any, headers: dict[str, str], document: dict[str, Any]) -> WalkResult:
    """Every mutating operation of the OpenAPI document with a minimal valid body, as the token's user."""
    result = WalkResult()
    for method, template, operation in api_operations(document):
        path, query = template, {}
        for param in operation.get("parameters", []):
            value = str(example_for(param.get("schema", {}), document, param["name"]))
            if param.get("in") == "path":
                path = path.replace("{" + param["name"] + "}", value)
            elif param.get("in") == "query" and param.get("required"):
                query[param["name"]] = value
        body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        body = example_for(body_schema, document) if body_schema else {}
        if query:
            path = f"{path}?{urlencode(query)}"
        response = client.generic(
            method.upper(), path, data=json.dumps(body), content_type="application/json", **headers
        )
        _judge(result, method, path, operation.get("operationId", template), response)
    return result
