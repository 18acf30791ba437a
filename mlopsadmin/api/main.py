"""The JSON API under /api/v1/. Each feature app contributes a router; the OpenAPI document is
served at /api/v1/openapi.json (no docs UI: it would load scripts from outside)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError

from mlopsadmin.api.auth import session_auth, token_auth
from mlopsadmin.core.errors import DomainError
from mlopsadmin.lib.mlflow_client import MlflowError, MlflowNotFound, MlflowUnavailable

api = NinjaAPI(
    title="mlopsadmin API",
    version="1",
    description="Governed MLflow registry and maintenance. Authenticate with `Authorization: Bearer <token>`.",
    auth=[token_auth, session_auth],
    docs_url=None,
    openapi_url="/openapi.json",
    urls_namespace="api",
)


def _error(request: HttpRequest, detail: str, status: int, **extra: object) -> HttpResponse:
    return api.create_response(request, {"detail": detail, **extra}, status=status)


@api.exception_handler(PermissionDenied)
def permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _error(request, str(exc) or "Permission denied.", 403)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, "Authentication required: send 'Authorization: Bearer <token>'.", 401)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return _error(request, str(exc), exc.status, error=type(exc).__name__, **getattr(exc, "extra", {}))


@api.exception_handler(MlflowError)
def mlflow_error(request: HttpRequest, exc: MlflowError) -> HttpResponse:
    status = 503 if isinstance(exc, MlflowUnavailable) else 404 if isinstance(exc, MlflowNotFound) else 502
    return _error(request, str(exc), status, error=type(exc).__name__)


def _register_routers() -> None:
    from mlopsadmin.api.core_api import router as core_router

    api.add_router("/", core_router)
    # Feature routers: each app owns its `api.py` with a `router`.
    for module_name, prefix in [
        ("catalog.api", "/"),
        ("registry_ui.api", "/"),
        ("registry_ui.promotion.api", "/"),
        ("maintenance.api", "/"),
        ("maintenance.checklists.api", "/"),
        ("mlopsadmin.core.audit_api", "/"),
    ]:
        try:
            module = __import__(module_name, fromlist=["router"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        api.add_router(prefix, module.router)


_register_routers()
