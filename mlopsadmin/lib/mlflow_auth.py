"""The gateway to MLflow's permission REST API (a tracking server run with `--app-name basic-auth`).

The only module that calls MLflow's user and permission endpoints (mlflow/server/auth/routes.py of the
installed MLflow 3.17): users are listed and created under /api/2.0/mlflow/users/, per-user grants are read,
granted and revoked through the v3 convenience endpoints (/api/3.0/mlflow/users/permissions/list|grant|revoke|get),
which write to each user's synthetic `__user_<id>__` role. Calls run as the service account
(MLFLOW_TRACKING_USERNAME, which must be an MLflow admin), with the gateway's timeout; failures leave as the
gateway's domain errors, classified as the other gateway calls are (mlflow_errors): a connection failure is
MlflowUnavailable (retryable), 401 MlflowAuthFailed (credentials refused), 403 MlflowPermissionDenied (the
service account is not an MLflow admin), 429 MlflowRateLimited (retryable), MLflow's own 5xx
MlflowServerError; none of them is an outage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

from mlopsadmin.lib.mlflow_client import (
    MlflowConflict,
    MlflowError,
    MlflowInvalid,
    MlflowNotFound,
    MlflowPermissionDenied,
    MlflowUnavailable,
    rate_limited,
    refusal_error,
    server_error,
    tracking_uri,
)

USERS_LIST = "/api/2.0/mlflow/users/list"
USERS_CREATE = "/api/2.0/mlflow/users/create"
USERS_CURRENT = "/api/2.0/mlflow/users/current"
PERMISSIONS_LIST = "/api/3.0/mlflow/users/permissions/list"
PERMISSIONS_GRANT = "/api/3.0/mlflow/users/permissions/grant"
PERMISSIONS_REVOKE = "/api/3.0/mlflow/users/permissions/revoke"
PERMISSIONS_GET = "/api/3.0/mlflow/users/permissions/get"

# MLflow's order of permissions (mlflow.server.auth.permissions.PERMISSION_PRIORITY).
PRIORITY = {"DENY": -1, "NO_PERMISSIONS": 0, "READ": 1, "USE": 2, "EDIT": 3, "MANAGE": 4}
SYNTHETIC_ROLE_RE = re.compile(r"^__user_\d+__$")


@dataclass(frozen=True)
class AuthUser:
    username: str
    is_admin: bool


@dataclass(frozen=True)
class Grant:
    """One permission row of a user: from their own (synthetic) role when `direct`, else from a role an MLflow
    admin assigned (`role_name`). `resource_pattern` is an experiment id, a model name, or "*"."""

    role_name: str
    resource_type: str
    resource_pattern: str
    permission: str

    @property
    def direct(self) -> bool:
        return bool(SYNTHETIC_ROLE_RE.match(self.role_name))


def _error(response: requests.Response, operation: str) -> MlflowError:
    try:
        body: Any = response.json()
    except ValueError:
        body = {}
    code = str(body.get("error_code", "")) if isinstance(body, dict) else ""
    message = (body.get("message") if isinstance(body, dict) else "") or response.text[:300]
    text = f"{operation}: MLflow answered {response.status_code}: {message}"
    if response.status_code == 401:
        return refusal_error(401, code, operation, (), message)
    if response.status_code == 403:
        user = settings.MLFLOW_TRACKING_USERNAME or "(no user name set)"
        return MlflowPermissionDenied(
            f"The service account {user!r} may not use MLflow's permission API ({operation} answered 403): "
            "it must be an MLflow admin. Retrying will not help.",
            operation=operation,
        )
    if response.status_code == 429 or code == "REQUEST_LIMIT_EXCEEDED":
        return rate_limited(operation, message)
    if response.status_code == 404 or code == "RESOURCE_DOES_NOT_EXIST":
        return MlflowNotFound(text, operation=operation)
    if code == "RESOURCE_ALREADY_EXISTS":
        return MlflowConflict(text, operation=operation)
    if response.status_code >= 500:
        return server_error(response.status_code, operation, response.text, body=response.text)
    return MlflowInvalid(text, operation=operation)


def _request(
    method: str, path: str, *, params: dict[str, str] | None = None, body: dict[str, str] | None = None
) -> Any:
    operation = f"{method} {path.rsplit('/mlflow/', 1)[-1]}"
    auth = (settings.MLFLOW_TRACKING_USERNAME, settings.MLFLOW_TRACKING_PASSWORD)
    try:
        response = requests.request(
            method,
            tracking_uri().rstrip("/") + path,
            params=params,
            json=body,
            auth=auth if settings.MLFLOW_TRACKING_USERNAME else None,
            timeout=settings.MLFLOW_REQUEST_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise MlflowUnavailable(
            f"MLflow server unreachable during {operation}: {type(exc).__name__}", operation=operation
        ) from exc
    if response.status_code != 200:
        raise _error(response, operation)
    try:
        return response.json()
    except ValueError:
        return {}


def auth_enabled() -> bool:
    """Does the tracking server run the basic-auth app? (Its /users/current route exists only then.)"""
    try:
        _request("GET", USERS_CURRENT)
    except MlflowNotFound:
        return False
    return True


def current_user() -> AuthUser | None:
    """The user mlopsadmin calls MLflow as (the service account), or None when the server has no basic-auth
    app. Any authenticated user may read this about themselves."""
    try:
        data = _request("GET", USERS_CURRENT)
    except MlflowNotFound:
        return None
    user = data.get("user", {}) if isinstance(data, dict) else {}
    return AuthUser(str(user.get("username", "")), bool(user.get("is_admin")))


def list_users() -> list[AuthUser]:
    """Every MLflow user (one request; MLflow does not paginate this list)."""
    data = _request("GET", USERS_LIST)
    return [AuthUser(str(u["username"]), bool(u.get("is_admin"))) for u in data.get("users", [])]


def create_user(username: str, password: str) -> None:
    """Create an MLflow user. Raises MlflowConflict when it exists."""
    _request("POST", USERS_CREATE, body={"username": username, "password": password})


def list_grants(username: str) -> list[Grant]:
    """All permission rows of `username`, across every role they hold (their own and assigned ones)."""
    data = _request("GET", PERMISSIONS_LIST, params={"username": username})
    return [
        Grant(str(p["role_name"]), str(p["resource_type"]), str(p["resource_pattern"]), str(p["permission"]))
        for p in data.get("permissions", [])
    ]


def grant(username: str, resource_type: str, resource_id: str, permission: str) -> None:
    """Add a direct grant. MLflow refuses (MlflowConflict) when the user already has one on that resource."""
    _request(
        "POST",
        PERMISSIONS_GRANT,
        body={
            "username": username,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "permission": permission,
        },
    )


def revoke(username: str, resource_type: str, resource_id: str) -> None:
    """Remove the user's direct grant on the resource (MlflowNotFound when there is none)."""
    _request(
        "POST",
        PERMISSIONS_REVOKE,
        body={"username": username, "resource_type": resource_type, "resource_id": resource_id},
    )


def effective_permission(username: str, resource_type: str, resource_id: str) -> str:
    """The permission MLflow itself resolves for this user on this resource (as its own checks would)."""
    data = _request(
        "GET",
        PERMISSIONS_GET,
        params={"username": username, "resource_type": resource_type, "resource_id": resource_id},
    )
    return str(data.get("permission", ""))
