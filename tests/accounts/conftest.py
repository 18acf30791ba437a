"""A real OpenID provider process (oidc-provider-mock from PyPI, PKCE and nonce enforced: pkce_provider.py) on
127.0.0.1, started once per session, and settings pointing mlopsadmin's company sign-in at it."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mlopsadmin.lib.mlflow_server import free_port

CLIENT_ID = "mlopsadmin-tests"
GROUP_MAP = "ml-search-leads=ML lead:search; mlops-auditors=Auditor; ds-fraud=:fraud; mlops-admins=Admin"


class Provider:
    def __init__(self, url: str) -> None:
        self.url = url

    def set_user(self, sub: str, **claims: object) -> None:
        """What the provider says about `sub` from now on (the mock's PUT /users/<sub>)."""
        response = requests.put(f"{self.url}/users/{sub}", json=claims, timeout=5)
        assert response.status_code == 204, response.text


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Provider]:
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="mlopsadmin-oidc-")) / "provider.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.accounts.pkce_provider", "--host", "127.0.0.1", "--port", str(port)]
            + ["--require-nonce"],
            cwd=Path(__file__).resolve().parents[2],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if requests.get(f"{url}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "OIDC provider did not start"
            time.sleep(0.1)
        yield Provider(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def company_sign_in(oidc_provider: Provider, settings: object) -> Provider:
    """Company sign-in configured against the session's provider, endpoints read from its discovery document
    (as `manage.py oidc_discover` does)."""
    from mlopsadmin.accounts.discovery import discover

    for name, value in discover(oidc_provider.url).items():
        setattr(settings, name, value)
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID  # type: ignore[attr-defined]
    settings.OIDC_RP_CLIENT_SECRET = "tests-client-secret"  # type: ignore[attr-defined]
    settings.OIDC_PROVIDER_NAME = "Test IdP"  # type: ignore[attr-defined]
    settings.OIDC_GROUP_MAP = GROUP_MAP  # type: ignore[attr-defined]
    return oidc_provider
