"""Company sign-in settings (OpenID Connect through mozilla-django-oidc; README "Sign-in").

Imported by settings.py, which stays the one settings module: every value comes from the environment.
"""

from __future__ import annotations

import os

from mlopsadmin.settings_helpers import env_bool, env_float

# --- Company sign-in (OpenID Connect, mozilla-django-oidc; see README "Sign-in") ------------------
# On when OIDC_RP_CLIENT_ID is set; the endpoints are those of the provider's
# /.well-known/openid-configuration (`manage.py oidc_discover ISSUER` prints them as env lines).
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_OP_END_SESSION_ENDPOINT = os.environ.get("OIDC_OP_END_SESSION_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = os.environ.get("OIDC_RP_SCOPES", "openid email profile")
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "company account")
OIDC_USERNAME_CLAIM = os.environ.get("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups")
# IdP group → role[:team]: JSON {"ml-search": ["ML lead:search"]} or "ml-search=ML lead:search; ops=Operator".
OIDC_GROUP_MAP = os.environ.get("OIDC_GROUP_MAP", "")
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_STORE_ID_TOKEN = True  # the id_token_hint of the provider's end-session request
OIDC_TIMEOUT = env_float("OIDC_TIMEOUT", 10.0)
OIDC_VERIFY_SSL = env_bool("OIDC_VERIFY_SSL", True)
OIDC_OP_LOGOUT_URL_METHOD = "mlopsadmin.accounts.views.provider_logout_url"
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
