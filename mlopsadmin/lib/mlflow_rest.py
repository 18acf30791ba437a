"""The gateway's HTTP transport to the MLflow tracking server, configured once per process.

Part of the MLflow gateway (`mlopsadmin/lib/mlflow_client.py` is its public face). MLflow's own client
re-does its set-up on every call: it resolves request-header providers (Databricks context probes, each an
import look-up that fails), rebuilds its host credentials from the environment and lets `requests` read the
proxy variables again (MLFLOW-NOTES: "visible in profiles of per-run loops"). Here that set-up happens once,
when the transport is built (`builds` counts it): base URL, credentials (basic auth from settings, or
MLFLOW_TRACKING_TOKEN), TLS options (MLFLOW_TRACKING_INSECURE_TLS, MLFLOW_TRACKING_SERVER_CERT_PATH,
MLFLOW_TRACKING_CLIENT_CERT_PATH, REQUESTS_CA_BUNDLE), proxies for the tracking host, User-Agent, and the
retry policy. It is rebuilt only when the settings it depends on change (tests point it at another server)
or in a forked child process.

A call is one request with settings.MLFLOW_REQUEST_TIMEOUT per attempt, retried like MLflow's client
(settings.MLFLOW_REQUEST_MAX_RETRIES times, back-off factor 1 s, on connection errors and HTTP 408, 429,
500, 502, 503, 504); `single=True` sends exactly one attempt with the caller's timeout (mlflow_bounded).
Answers are parsed from JSON (no protobuf); every failure leaves as an `MlflowError` (mlflow_errors.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from mlopsadmin.lib.metrics import observe_mlflow_call
from mlopsadmin.lib.mlflow_connection import tracking_uri
from mlopsadmin.lib.mlflow_errors import (
    MlflowError,
    MlflowUnavailable,
    answer_error,
    not_mlflow,
    short_message,
)

API = "/api/2.0/mlflow"
AJAX_API = "/ajax-api/2.0/mlflow"  # the routes MLflow serves for its own UI (e.g. bulk metric history)
RETRY_CODES = frozenset({408, 429, 500, 502, 503, 504})  # MLflow's client retries the same answers
POOL_SIZE = 10  # connections kept per host: the gateway's thread pools use at most this many


@dataclass(frozen=True)
class Transport:
    """One configured pair of HTTP sessions to the tracking server (see the module docstring)."""

    key: tuple[Any, ...]
    base: str  # tracking URI + API prefix
    retrying: requests.Session
    single: requests.Session
    account: str = ""  # who a refusal names (another server's service account); "" = the default one


_lock = threading.Lock()
_current: Transport | None = None
builds = 0  # transports configured in this process (tests assert it stays at one per configuration)


def _key() -> tuple[Any, ...]:
    return (
        tracking_uri(),
        settings.MLFLOW_TRACKING_USERNAME,
        settings.MLFLOW_TRACKING_PASSWORD,
        int(settings.MLFLOW_REQUEST_MAX_RETRIES),
        os.getpid(),  # a forked worker builds its own (sockets are not shared across processes)
    )


def _session(
    uri: str, retries: int, *, auth: tuple[str, str] | None | bool = True, token: bool = True
) -> requests.Session:
    """A session with everything resolved now: nothing is read from the environment per request.
    `auth`: True = the default service account from settings; a (user, password) pair or None given
    explicitly (another environment's server, issue 22); `token`: MLFLOW_TRACKING_TOKEN applies when no
    basic auth is set (the default server only)."""
    from importlib.metadata import version

    session = requests.Session()
    session.trust_env = False  # proxies and CA bundle are resolved below, once
    session.proxies = requests.utils.get_environ_proxies(uri)
    bundle = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or os.environ.get("REQUESTS_CA_BUNDLE")
    session.verify = bundle or os.environ.get("CURL_CA_BUNDLE") or True
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").strip().lower() in ("true", "1"):
        session.verify = False
    if os.environ.get("MLFLOW_TRACKING_CLIENT_CERT_PATH"):
        session.cert = os.environ["MLFLOW_TRACKING_CLIENT_CERT_PATH"]
    if auth is True:
        auth = (
            (settings.MLFLOW_TRACKING_USERNAME, settings.MLFLOW_TRACKING_PASSWORD)
            if settings.MLFLOW_TRACKING_USERNAME
            else None
        )
    if isinstance(auth, tuple):
        session.auth = auth
    elif token and os.environ.get("MLFLOW_TRACKING_TOKEN"):
        session.headers["Authorization"] = f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"
    session.headers["User-Agent"] = f"mlopsadmin (mlflow-python-client/{version('mlflow')})"
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        redirect=retries,
        status_forcelist=RETRY_CODES,
        allowed_methods=None,  # writes too, as MLflow's client does (a lost answer is read back by callers)
        backoff_factor=1.0,
        raise_on_status=False,  # the last answer is returned, so its error text reaches the user
    )
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=POOL_SIZE, max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def transport() -> Transport:
    """The process's transport for the current settings, built on first use (and again only when the
    tracking URI, credentials or retry count change, or in a forked child)."""
    global _current, builds
    key = _key()
    current = _current
    if current is not None and current.key == key:
        return current
    with _lock:
        if _current is None or _current.key != key:
            uri = tracking_uri().rstrip("/")
            _current = Transport(key, uri + API, _session(uri, key[3]), _session(uri, 0))
            builds += 1
        return _current


_others: dict[tuple[Any, ...], Transport] = {}


def transport_for(uri: str, auth: tuple[str, str] | None, account: str = "") -> Transport:
    """A transport to another tracking server (an environment's, issue 22) with explicit credentials:
    `auth` is sent as basic auth on every request of these sessions and nothing else is (no token, no
    process-wide variable is read or written), so concurrent calls to other servers never see them.
    `account` is what a 401/403 of this server names (its service account and where it is set).
    Built once per (uri, credentials, account, retries, process)."""
    secret = hashlib.sha256(repr(auth).encode()).hexdigest()  # the key (kept on the transport) holds no password
    key = (uri.rstrip("/"), secret, int(settings.MLFLOW_REQUEST_MAX_RETRIES), os.getpid(), account)
    with _lock:
        if key not in _others:
            base = key[0]
            _others[key] = Transport(
                key,
                base + API,
                _session(base, key[2], auth=auth, token=False),
                _session(base, 0, auth=auth, token=False),
                account,
            )
        return _others[key]


def _json_body(body: dict[str, Any]) -> str:
    """JSON as MLflow's protobuf parser reads it: non-finite floats as "NaN" / "Infinity" strings."""

    def fix(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    return json.dumps(fix(body))


def request(
    operation: str,
    method: str,
    endpoint: str,
    body: dict[str, Any] | None = None,
    *,
    subject: tuple[Any, ...] = (),
    timeout: float | None = None,
    single: bool = False,
    via: Transport | None = None,
    api: str = API,
) -> dict[str, Any]:
    """One MLflow REST call (`endpoint` under `api`: /api/2.0/mlflow, or AJAX_API for the few routes MLflow
    serves only there; GET bodies go in the query string, a list value as a repeated key), timed
    and counted by `operation` for /metrics. Returns the answer's JSON object. Raises MlflowUnavailable
    (unreachable, timed out), MlflowServerError (5xx), MlflowNotFound, MlflowInvalid, MlflowConflict,
    MlflowPermissionDenied / MlflowAuthFailed (naming what `subject` — the call's model or run — needs).
    `via`: another server's transport (transport_for); the default server's otherwise."""
    with observe_mlflow_call(operation):
        sent = via or transport()
        session = sent.single if single else sent.retrying
        fields = {k: v for k, v in (body or {}).items() if v is not None}
        kwargs: dict[str, Any] = {"timeout": float(settings.MLFLOW_REQUEST_TIMEOUT) if timeout is None else timeout}
        if method == "GET":
            kwargs["params"] = fields
        else:
            kwargs["data"] = _json_body(fields)
            kwargs["headers"] = {"Content-Type": "application/json"}
        try:
            response = session.request(method, sent.base[: -len(API)] + api + endpoint, **kwargs)
        except requests.exceptions.RequestException as exc:
            kind = "timed out" if isinstance(exc, requests.exceptions.Timeout) else "unreachable"
            raise MlflowUnavailable(
                f"MLflow server {kind} during {operation}: {short_message(str(exc))}", operation=operation
            ) from None
        if response.status_code != 200:
            raise answer_error(response.status_code, response.text, operation, subject, account=sent.account)
        try:
            answer = response.json()
        except ValueError:  # e.g. the sign-in page of a proxy in front of MLflow, answered with 200
            raise not_mlflow(operation, response.text) from None
        if not isinstance(answer, dict):
            raise MlflowError(f"{operation}: MLflow answered with unexpected JSON", operation=operation)
        return answer


def pages(
    operation: str,
    method: str,
    endpoint: str,
    body: dict[str, Any],
    items: str,
    *,
    subject: tuple[Any, ...] = (),
    via: Transport | None = None,
) -> Iterator[dict[str, Any]]:
    """Every item (`items`: the answer's list field) of a paginated search, following `next_page_token`
    until the last page (no silent cap)."""
    token: str | None = None
    while True:
        answer = request(operation, method, endpoint, {**body, "page_token": token}, subject=subject, via=via)
        yield from answer.get(items) or []
        token = answer.get("next_page_token") or None
        if not token:
            return
