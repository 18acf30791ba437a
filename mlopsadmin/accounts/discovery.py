"""Reading an OpenID provider's discovery document into mlopsadmin's OIDC_* settings."""

from __future__ import annotations

import requests

from mlopsadmin.core.errors import InvalidInput

# discovery field → setting (environment variable) name
DISCOVERY_FIELDS = {
    "authorization_endpoint": "OIDC_OP_AUTHORIZATION_ENDPOINT",
    "token_endpoint": "OIDC_OP_TOKEN_ENDPOINT",
    "userinfo_endpoint": "OIDC_OP_USER_ENDPOINT",
    "jwks_uri": "OIDC_OP_JWKS_ENDPOINT",
    "end_session_endpoint": "OIDC_OP_END_SESSION_ENDPOINT",
}


def discover(issuer: str, *, timeout: float = 10.0) -> dict[str, str]:
    """{setting name: URL} from `<issuer>/.well-known/openid-configuration` (fields the provider lacks are
    left out; end_session_endpoint is optional). Raises InvalidInput when the document cannot be read."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise InvalidInput(f"Cannot read the discovery document at {url}: {type(exc).__name__}") from exc
    found = {setting: str(document[field]) for field, setting in DISCOVERY_FIELDS.items() if document.get(field)}
    missing = [s for s in DISCOVERY_FIELDS.values() if s not in found and s != "OIDC_OP_END_SESSION_ENDPOINT"]
    if missing:
        raise InvalidInput(f"The discovery document at {url} lacks {', '.join(missing)}.")
    return found
