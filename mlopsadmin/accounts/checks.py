"""Start-up checks of the sign-in and MLflow-permission settings (ids mlopsadmin.E101–E109, W101)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import Error, Warning, register

from mlopsadmin.accounts.groupmap import GroupMapError, parse_group_map

OIDC_ENDPOINTS = ("OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT", "OIDC_OP_USER_ENDPOINT")
MLFLOW_PERMISSION_NAMES = ("READ", "USE", "EDIT", "MANAGE")


def _is_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in {"http", "https"} and bool(parsed.netloc)


@register()
def check_sign_in(app_configs: Any, **kwargs: Any) -> list[Error | Warning]:
    problems: list[Error | Warning] = []
    if settings.LOCAL_LOGIN not in {"all", "admins", "off"}:
        problems.append(
            Error(f"LOCAL_LOGIN must be all, admins or off, got {settings.LOCAL_LOGIN!r}.", id="mlopsadmin.E101")
        )
    try:
        parse_group_map(settings.OIDC_GROUP_MAP)
    except GroupMapError as exc:
        problems.append(
            Error(
                f"OIDC_GROUP_MAP: {exc}.",
                hint="JSON or 'group=ROLE[:TEAM]; ...' (README, Sign-in).",
                id="mlopsadmin.E102",
            )
        )
    if not settings.OIDC_RP_CLIENT_ID:
        if settings.LOCAL_LOGIN == "off":
            problems.append(
                Error(
                    "LOCAL_LOGIN=off but company sign-in is not configured: nobody could sign in.", id="mlopsadmin.E103"
                )
            )
        return problems
    missing = [name for name in OIDC_ENDPOINTS if not _is_url(getattr(settings, name))]
    if missing:
        problems.append(
            Error(
                f"Company sign-in is on (OIDC_RP_CLIENT_ID) but {', '.join(missing)} is not an http(s) URL.",
                hint="Copy them from the provider's /.well-known/openid-configuration (manage.py oidc_discover).",
                id="mlopsadmin.E104",
            )
        )
    if not settings.OIDC_RP_CLIENT_SECRET:
        problems.append(Error("OIDC_RP_CLIENT_SECRET is not set.", id="mlopsadmin.E105"))
    if settings.OIDC_RP_SIGN_ALGO.startswith(("RS", "ES", "PS")) and not _is_url(settings.OIDC_OP_JWKS_ENDPOINT):
        problems.append(
            Error(f"OIDC_RP_SIGN_ALGO={settings.OIDC_RP_SIGN_ALGO} needs OIDC_OP_JWKS_ENDPOINT.", id="mlopsadmin.E106")
        )
    if settings.OIDC_OP_END_SESSION_ENDPOINT and not _is_url(settings.OIDC_OP_END_SESSION_ENDPOINT):
        problems.append(Error("OIDC_OP_END_SESSION_ENDPOINT must be an http(s) URL.", id="mlopsadmin.E107"))
    if "openid" not in settings.OIDC_RP_SCOPES.split():
        problems.append(Error("OIDC_RP_SCOPES must include 'openid'.", id="mlopsadmin.E108"))
    if not settings.OIDC_GROUP_MAP:
        problems.append(
            Warning(
                "OIDC_GROUP_MAP is empty: people who sign in with the company account get no role and no team.",
                id="mlopsadmin.W101",
            )
        )
    return problems


@register()
def check_mlflow_permissions(app_configs: Any, **kwargs: Any) -> list[Error]:
    problems = []
    for name in ("MLFLOW_PERMISSIONS_DEFAULT", "MLFLOW_PERMISSIONS_TEAM_EXPERIMENTS", "MLFLOW_PERMISSIONS_TEAM_MODELS"):
        if getattr(settings, name) not in MLFLOW_PERMISSION_NAMES:
            problems.append(Error(f"{name} must be one of {', '.join(MLFLOW_PERMISSION_NAMES)}.", id="mlopsadmin.E109"))
    return problems
