"""The provider process of the sign-in tests: oidc-provider-mock (from PyPI) with PKCE enforced.

oidc-provider-mock 0.3.x (0.4 needs Python 3.12) does not register Authlib's PKCE extension, so it would accept
a token request without the right `code_verifier`. This launcher registers Authlib's own `CodeChallenge` on the
authorization-code grant (challenge required, S256 or plain, verifier checked at the token endpoint) and keeps
each code's challenge, then runs the package's command line unchanged: `python -m tests.accounts.pkce_provider
--port N --require-nonce`.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from oidc_provider_mock import _app
from oidc_provider_mock.__main__ import run

CHALLENGES: dict[str, tuple[str, str | None]] = {}  # authorization code -> (challenge, method)


class RequiredCodeChallenge(CodeChallenge):
    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        if not grant.request.payload.data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: Any) -> str | None:
        return CHALLENGES.get(authorization_code.code, (None, None))[0]

    def get_authorization_code_challenge_method(self, authorization_code: Any) -> str | None:
        return CHALLENGES.get(authorization_code.code, (None, None))[1]


_save_code = _app.AuthorizationCodeGrant.save_authorization_code


def _save_code_and_challenge(self: Any, code: str, request: Any) -> None:
    _save_code(self, code, request)
    data = request.payload.data
    CHALLENGES[code] = (data["code_challenge"], data.get("code_challenge_method"))


_register_grant = AuthorizationServer.register_grant


def _register_grant_with_pkce(self: Any, grant_cls: Any, extensions: list[Any] | None = None) -> None:
    if grant_cls is _app.AuthorizationCodeGrant:
        extensions = [*(extensions or []), RequiredCodeChallenge(required=True)]
    _register_grant(self, grant_cls, extensions)


_app.AuthorizationCodeGrant.save_authorization_code = _save_code_and_challenge  # type: ignore[method-assign]
AuthorizationServer.register_grant = _register_grant_with_pkce  # type: ignore[method-assign]

if __name__ == "__main__":
    run()
