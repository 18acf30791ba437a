"""API authentication: a bearer token (CI pipelines) or the browser session (with CSRF)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from mlopsadmin.core.services import api_token_authenticate

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class TokenAuth(HttpBearer):
    """Bearer tokens. A read-only token is refused (403) for every method that is not a read, here, for every
    operation of the API at once: no endpoint can forget the check."""

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
