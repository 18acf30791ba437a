"""Authentication backends: local passwords (limited by LOCAL_LOGIN) and company sign-in (OIDC)."""

from __future__ import annotations

from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from mlopsadmin.accounts.services import local_login_allowed, sign_in


class LocalPasswordBackend(ModelBackend):
    """Django's username/password check, refused for users LOCAL_LOGIN does not allow (break-glass)."""

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and not local_login_allowed(user):
            if request is not None:
                request.local_login_refused = True  # the login view says why instead of "wrong password"
            return None
        return user


def oidc_enabled() -> bool:
    return bool(settings.OIDC_RP_CLIENT_ID)


class CompanySignInBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's code flow (state, nonce, PKCE, signature checked by the library); users are
    matched by (issuer, subject) and provisioned by mlopsadmin.accounts.services.sign_in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Constructed by Django for every authenticate() call (also password logins): with sign-in not
        # configured, skip the library's settings look-ups, which would refuse the missing endpoints.
        self.UserModel = get_user_model()
        if oidc_enabled():
            super().__init__(*args, **kwargs)

    def authenticate(self, request: Any, **kwargs: Any) -> Any:
        if not oidc_enabled() or request is None or "code" not in getattr(request, "GET", {}):
            return None
        return super().authenticate(request, **kwargs)

    def retrieve_matching_jwk(self, token: str) -> Any:
        """The provider's signing key for `token`: by `kid`, or the only key of the set when the token names
        none (a provider with one key may leave `kid` out; the library would refuse it)."""
        header = jwt.get_unverified_header(token)
        if "kid" in header:
            return super().retrieve_matching_jwk(token)
        response = requests.get(
            self.OIDC_OP_JWKS_ENDPOINT, verify=settings.OIDC_VERIFY_SSL, timeout=settings.OIDC_TIMEOUT
        )
        response.raise_for_status()
        keys = [k for k in response.json().get("keys", []) if k.get("alg", header.get("alg")) == header.get("alg")]
        if len(keys) != 1:
            raise SuspiciousOperation("The ID token names no key ('kid') and the provider has several.")
        return jwt.PyJWK(keys[0])

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        """The library's checks (signature, algorithm, expiry, nonce) plus the audience: an ID token issued
        to another client of the same provider is refused."""
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token was issued to another client (aud).")
        return payload

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> dict[str, Any]:
        claims = super().get_userinfo(access_token, id_token, payload)
        if claims.get("sub") != payload.get("sub"):
            return {}  # userinfo must describe the ID token's subject (OIDC Core 5.3.2)
        self._issuer = str(payload.get("iss") or settings.OIDC_OP_AUTHORIZATION_ENDPOINT)
        return claims

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:  # the library's e-mail match is not used
        return self.UserModel.objects.none()

    def create_user(self, claims: dict[str, Any]) -> Any:
        user = sign_in(issuer=self._issuer, claims=claims)
        return user

    def get_user(self, user_id: int) -> Any:
        try:
            return self.UserModel.objects.get(pk=user_id)
        except self.UserModel.DoesNotExist:
            return None
