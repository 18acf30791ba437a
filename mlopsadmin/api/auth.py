"""API authentication: a bearer token (CI pipelines) or the browser session (with CSRF)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer, SessionAuth

from mlopsadmin.core.services import api_token_authenticate

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`. A request that sends an Authorization header is judged by it
    alone: a wrong, expired, revoked or malformed token answers 401 on every method (it never falls
    through to the session check, whose CSRF refusal would answer 403). A read-only token is refused
    (403) for every method that is not a read, here, for every operation of the API at once: no endpoint
    can forget the check."""

    def __call__(self, request: HttpRequest) -> Any:
        value = request.headers.get(self.header, "")
        if not value:
            return None
        scheme, _, token = value.partition(" ")
        user = self.authenticate(request, token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if user is None:
            raise AuthenticationError(message="The API token is not valid (unknown, expired, revoked or malformed).")
        return user

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_token = api_token_authenticate(token)
        if api_token is None:
            return None
        if api_token.read_only and request.method not in SAFE_METHODS:
            raise PermissionDenied(f"This API token is read-only: {request.method} requests are refused.")
        request.user = api_token.user
        return api_token.user


session_auth = SessionAuth(csrf=True)
token_auth = TokenAuth()
