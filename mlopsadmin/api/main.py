"""The JSON API under /api/v1/. Each feature app contributes a router; the OpenAPI document is
served at /api/v1/openapi.json and a readable reference (django-ninja's Swagger UI) at /api/v1/docs
for signed-in users, its scripts and styles served by the app itself from django-ninja's package
(static/ninja/), so it works air-gapped and under the CSP."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, ValidationError
from ninja.renderers import JSONRenderer

from mlopsadmin.api.auth import session_auth, token_auth
from mlopsadmin.core.errors import DomainError
from mlopsadmin.core.formatting import json_safe
from mlopsadmin.lib.mlflow_client import MlflowError, http_status
from mlopsadmin.lib.redaction import scrub

# Every operation can answer these; the document says so, with one error shape: {"detail": str, ...}.
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "error": {"type": "string"}},
    "required": ["detail"],
}
COMMON_ERRORS = {
    "400": "Invalid input",
    "401": "Authentication required",
    "403": "Not allowed by policy",
    "404": "Not found",
    "409": "Conflict with the current state",
    "413": "Request body larger than the server accepts (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB by default)",
    "415": "Request body not sent as application/json",
    "422": "Refused by a rule or invalid body",
    "502": "MLflow refused the request",
    "503": "MLflow, the database, the lock service or the task queue is unavailable",
}


class DocumentedErrorsAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI document lists the common error answers of every operation."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, object] | None = None
    ) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                # ninja keys an operation's own answers by int; one key per status in the JSON text
                # (a duplicate "400" makes strict parsers such as the API reference page refuse it)
                responses = {str(code): value for code, value in operation.get("responses", {}).items()}
                for code, description in COMMON_ERRORS.items():
                    responses.setdefault(
                        code,
                        {
                            "description": description,
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                        },
                    )
                operation["responses"] = responses
        return schema


class FiniteJSONRenderer(JSONRenderer):
    """JSON proper: NaN and ±inf (MLflow metrics can be either) are sent as "NaN"/"Infinity" strings,
    never as the bare tokens Python's json writes, which JSON parsers refuse."""

    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> Any:
        return json.dumps(json_safe(data), cls=self.encoder_class, allow_nan=False)


class SignedInSwagger(Swagger):
    """django-ninja's Swagger UI page for signed-in users only (others go to the login page). Not
    ninja's docs_decorator: that would also guard /openapi.json, which token clients read.

    Always ninja's local template and assets (settings.py adds ninja's templates/ and static/ folders):
    ninja is not an installed app (so commands do not import it), and ninja's own render_page would
    then fall back to its CDN page, which an air-gapped site cannot load."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        auths = api.auth if isinstance(api.auth, list | tuple) else []
        context = {
            "swagger_settings": json.dumps(self.settings, indent=1),
            "api": api,
            "add_csrf": any(getattr(auth, "csrf", False) for auth in auths),  # the page's "Try it out" POSTs
        }
        return render(request, self.template, context)


api = DocumentedErrorsAPI(
    renderer=FiniteJSONRenderer(),
    title="mlopsadmin API",
    version="1",
    description="Governed MLflow registry and maintenance. Authenticate with `Authorization: Bearer <token>`.",
    auth=[token_auth, session_auth],
    docs_url="/docs",
    docs=SignedInSwagger(settings={"validatorUrl": None, "defaultModelsExpandDepth": 0}),  # no outside validator
    openapi_url="/openapi.json",
    urls_namespace="api",
)


def _error(request: HttpRequest, detail: str, status: int, **extra: object) -> HttpResponse:
    return api.create_response(request, {"detail": detail, **extra}, status=status)


@api.exception_handler(ValidationError)
def invalid_body(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error.get('loc', []) if part not in ('body', 'payload'))}: "
        f"{error.get('msg', 'invalid')}"
        for error in exc.errors
    )
    return _error(request, f"Invalid request: {problems}", 422, error="ValidationError", errors=exc.errors)


@api.exception_handler(PermissionDenied)
def permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _error(request, str(exc) or "Permission denied.", 403)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    detail = str(exc) if str(exc) not in ("", "Unauthorized") else ""
    return _error(request, detail or "Authentication required: send 'Authorization: Bearer <token>'.", 401)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return _error(request, str(exc), exc.status, error=type(exc).__name__, **getattr(exc, "extra", {}))


@api.exception_handler(MlflowError)
def mlflow_error(request: HttpRequest, exc: MlflowError) -> HttpResponse:
    status, _title = http_status(exc)
    return _error(request, scrub(str(exc)), status, error=type(exc).__name__)  # MLflow's text may quote a URI


def _register_routers() -> None:
    from mlopsadmin.api.core_api import router as core_router

    api.add_router("/", core_router)
    # Feature routers: each app owns its `api.py` with a `router`.
    for module_name, prefix in [
        ("catalog.api", "/"),
        ("registry_ui.api", "/"),
        ("registry_ui.compare.api", "/"),
        ("registry_ui.approvals.api", "/"),
        ("registry_ui.promotion.api", "/"),
        ("registry_ui.environments.api", "/"),
        ("maintenance.api", "/"),
        ("checklists.api", "/"),
        ("mlopsadmin.audit.api", "/"),
        ("configuration.api", "/"),
    ]:
        try:
            module = __import__(module_name, fromlist=["router"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        api.add_router(prefix, module.router)


_register_routers()
