"""MLflow failures as domain errors, and the one MLflow-error -> HTTP status map.

Part of the MLflow gateway (`mlopsadmin/lib/mlflow_client.py` is its public face). Every gateway call goes
through `call` (or `paginate`), so every failure leaves the gateway as an `MlflowError` whose `retryable`
says whether trying again later can help. Error texts never carry URI credentials or configured secrets.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django.conf import settings

from mlopsadmin.lib.metrics import observe_mlflow_call
from mlopsadmin.lib.mlflow_connection import display_uri, tracking_uri  # first: sets MLflow's timeouts
from mlopsadmin.lib.redaction import scrub

T = TypeVar("T")


class MlflowError(Exception):
    """An MLflow call failed. `retryable` says whether trying again later can help."""

    retryable = False

    def __init__(self, message: str, *, operation: str = "") -> None:
        super().__init__(message)
        self.operation = operation

    @property
    def tracking_uri(self) -> str:
        return display_uri(tracking_uri())


class MlflowUnavailable(MlflowError):
    """The server could not be reached or timed out (its own 5xx answers are MlflowServerError)."""

    retryable = True


class MlflowRateLimited(MlflowUnavailable):
    """MLflow (REQUEST_LIMIT_EXCEEDED) or a proxy in front of it answered HTTP 429: too many requests now.
    Transient (retried like an outage), but said as a rate limit, not as "unreachable" or an internal error."""


class MlflowNotFound(MlflowError):
    pass


class MlflowInvalid(MlflowError):
    pass


class MlflowConflict(MlflowError):
    """The thing already exists (e.g. an experiment name is taken)."""


class MlflowPermissionDenied(MlflowError):
    """MLflow (`--app-name basic-auth`) answered 403: the service account lacks a permission. Not retried."""


class MlflowAuthFailed(MlflowPermissionDenied):
    """MLflow answered 401: it refused mlopsadmin's credentials (wrong or rotated password). Not retried."""


class MlflowNotMlflow(MlflowError):
    """The tracking URI answered, but not as MLflow does (HTTP 200 with an HTML page, e.g. the sign-in page of
    a proxy in front of it): a configuration problem, neither an outage nor MLflow's own error. Not retried."""


class MlflowNoRoute(MlflowNotMlflow):
    """The tracking URI answered HTTP 404 with a page that is not MLflow's JSON: no such address there (a wrong
    path in MLFLOW_TRACKING_URI, a proxy with no route to MLflow, or a server too old for the call). MLflow's
    own "does not exist" always carries an error code (MlflowNotFound); this is never "no such model"."""


class MlflowServerError(MlflowError):
    """The server answered, with an internal error (HTTP 5xx or INTERNAL_ERROR): it is up, the request
    failed on its side. Trying again later may help; it is not "not answering"."""

    retryable = True

    def __init__(self, message: str, *, operation: str = "", status: int = 500) -> None:
        super().__init__(message, operation=operation)
        self.status = status


_CODE_TO_ERROR: dict[str, type[MlflowError]] = {
    "RESOURCE_DOES_NOT_EXIST": MlflowNotFound,
    "NOT_FOUND": MlflowNotFound,
    "INVALID_PARAMETER_VALUE": MlflowInvalid,
    "BAD_REQUEST": MlflowInvalid,
    "INVALID_STATE": MlflowInvalid,
    "RESOURCE_ALREADY_EXISTS": MlflowConflict,
    "PERMISSION_DENIED": MlflowPermissionDenied,
    "UNAUTHENTICATED": MlflowAuthFailed,
    "INTERNAL_ERROR": MlflowServerError,
    "TEMPORARILY_UNAVAILABLE": MlflowServerError,
    "REQUEST_LIMIT_EXCEEDED": MlflowRateLimited,
}
_ANSWERED = re.compile(r"failed with error code (\d{3})|too many (\d{3}) error responses")

# What MLflow's basic-auth app requires for each gateway operation (mlflow/server/auth), and on what.
_NEEDS_MANAGE = {"delete_registered_model", "delete_experiment", "rename_registered_model"}
_READ_OPERATIONS = ("get_", "search_", "list_", "load_", "GET ")


def _answered_status(message: str) -> int | None:
    """The HTTP status MLflow answered, when the error is an answer (not a connection failure)."""
    found = _ANSWERED.search(message)
    return int(found.group(1) or found.group(2)) if found else None


def _refusal_subject(operation: str, args: tuple[Any, ...]) -> str:
    """'EDIT on model X' / 'READ on experiment 12': what a 403 for this call means."""
    if operation in _NEEDS_MANAGE:
        needed = "MANAGE"
    elif operation.startswith(_READ_OPERATIONS):
        needed = "READ"
    else:
        needed = "EDIT"
    texts = [str(a) for a in args if isinstance(a, str | int) and str(a)]
    if not texts:
        return f"{needed} permission for {operation}"
    if operation == "register_model" and len(texts) > 1:
        return f"{needed} on model {texts[1]}"
    if "model" in operation:
        return f"{needed} on model {texts[0]}"
    if "experiment" in operation or operation == "create_run":
        return f"{needed} on experiment {texts[0]}"
    return f"{needed} on the experiment of run {texts[0]}"


def refusal_error(
    status: int | None, code: str, operation: str, args: tuple[Any, ...], detail: str, *, account: str = ""
) -> MlflowError:
    """MlflowAuthFailed for a 401 (credentials refused) or MlflowPermissionDenied for a 403 naming the
    permission the call needs and on what (`args`: the call's arguments, the model name or id first).
    `account`: who was refused and where its credentials are set, for a server other than the default one
    (an environment's, issue 22: e.g. "environment prod's service account 'svc' (MLA_USER / MLA_PASSWORD)");
    empty: the default server's service account (MLFLOW_TRACKING_USERNAME / _PASSWORD)."""
    if account:
        if status == 401 or code == "UNAUTHENTICATED":
            return MlflowAuthFailed(
                f"MLflow refused the credentials of {account} (HTTP 401 during {operation}): the user name or "
                "password is wrong or was changed; retrying will not help.",
                operation=operation,
            )
        return MlflowPermissionDenied(
            f"MLflow refused {account}: it lacks {_refusal_subject(operation, args)} (HTTP 403 during "
            f"{operation}). Grant it in MLflow; retrying will not help. {short_message(detail, 200)}".strip(),
            operation=operation,
        )
    user = settings.MLFLOW_TRACKING_USERNAME or "(no user name set)"
    if status == 401 or code == "UNAUTHENTICATED":
        return MlflowAuthFailed(
            f"MLflow refused mlopsadmin's credentials (HTTP 401 during {operation}): the service account "
            f"{user!r} or its password is wrong or was changed. Set MLFLOW_TRACKING_USERNAME / "
            "MLFLOW_TRACKING_PASSWORD; retrying will not help.",
            operation=operation,
        )
    return MlflowPermissionDenied(
        f"The service account {user!r} lacks {_refusal_subject(operation, args)} in MLflow (HTTP 403 during "
        f"{operation}). Grant it in MLflow; retrying will not help. {short_message(detail, 200)}".strip(),
        operation=operation,
    )


_GATEWAY_STATUSES = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def rate_limited(operation: str, detail: str) -> MlflowRateLimited:
    """A 429 answer or MLflow's REQUEST_LIMIT_EXCEEDED: too many requests now; trying later helps."""
    return MlflowRateLimited(
        f"MLflow is rate limiting mlopsadmin (HTTP 429 during {operation}): the tracking server or a proxy in "
        f"front of it refuses more requests now; try again later. {short_message(detail, 200)}".strip(),
        operation=operation,
    )


def no_route(operation: str, detail: str) -> MlflowNoRoute:
    """A 404 whose body is not MLflow's JSON (see MlflowNoRoute)."""
    return MlflowNoRoute(
        f"The tracking URI answered {operation} with HTTP 404 and a page that is not MLflow's (no such address: "
        "a wrong path in MLFLOW_TRACKING_URI, a proxy in front of MLflow with no route for it, or an MLflow "
        f"server too old for this call); retrying will not help. {short_message(detail, 200)}".strip(),
        operation=operation,
    )


def server_error(status: int, operation: str, detail: str, *, body: str | None = None) -> MlflowError:
    """A 5xx answer (`body`: the answer's body when known). MLflow answers its internal errors with 500 and a
    failing backend store with 503, always as JSON with an `error_code`; 502 and 504, and a 503 whose body is
    not MLflow's JSON, come from a proxy or load balancer in front of it whose tracking server is down or too
    slow: that is the server not answering (MlflowUnavailable). Any other 5xx is MLflow's own: reachable, the
    call failed on its side (MlflowServerError)."""
    from_gateway = status in (502, 504) or (status == 503 and body is not None and '"error_code"' not in body)
    if from_gateway:
        return MlflowUnavailable(
            f"MLflow server unreachable during {operation}: its address answered HTTP {status} "
            f"({_GATEWAY_STATUSES[status]}), the answer of a proxy or gateway whose tracking server behind it is "
            f"down or not answering in time. {short_message(detail, 200)}".strip(),
            operation=operation,
        )
    if status == 503:
        return MlflowServerError(
            f"MLflow answered HTTP 503 during {operation}: the tracking server (or a proxy in front of it) cannot "
            f"serve requests now; MLflow answers 503 when its backend store fails. {short_message(detail, 300)}",
            operation=operation,
            status=status,
        )
    return MlflowServerError(
        f"MLflow answered HTTP {status} during {operation}: an error inside the tracking server (it is "
        f"reachable). {short_message(detail, 300)}",
        operation=operation,
        status=status,
    )


def translate_error(exc: BaseException, operation: str, args: tuple[Any, ...] = ()) -> MlflowError:
    """The domain error for any failure of an MLflow call (`operation` names the call in the message):
    an HTTP answer by its status or error code (401, 403, 404, 5xx...), a connection failure or timeout
    as MlflowUnavailable ("unreachable")."""
    if isinstance(exc, MlflowError):
        return exc
    # mlflow is imported lazily (mlflow_connection); an exception can only be one of its classes once it is.
    exceptions = sys.modules.get("mlflow.exceptions")
    if exceptions is not None and isinstance(exc, exceptions.MlflowException):
        RestException = exceptions.RestException  # noqa: N806
        code = str(getattr(exc, "error_code", "") or "")
        message = exc.message if hasattr(exc, "message") else str(exc)
        status = None if isinstance(exc, RestException) else _answered_status(message)
        if status is None and "not in a valid JSON format" in message:
            return not_mlflow(operation, message)
        if status in (401, 403) or code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            return refusal_error(status, code, operation, args, message)
        if status == 429 or code == "REQUEST_LIMIT_EXCEEDED":
            return rate_limited(operation, message)
        if status is not None and status >= 500:
            body = message.split("Response body:", 1)[1] if "Response body:" in message else None
            return server_error(status, operation, message, body=body)
        if (
            status is None
            and not isinstance(exc, RestException)
            and (
                "Max retries exceeded" in message
                or "timed out" in message
                or "Connection" in message
                or "API request to" in message
            )
        ):
            return MlflowUnavailable(
                f"MLflow server unreachable during {operation}: {short_message(message)}", operation=operation
            )
        error_class = _CODE_TO_ERROR.get(code, MlflowError)
        if error_class is MlflowServerError:
            return server_error(500, operation, message)
        return error_class(f"{operation}: {short_message(message)}", operation=operation)
    # requests' RequestException is an OSError (so is urllib3's): no need to import requests to know it.
    if isinstance(exc, ConnectionError | TimeoutError | OSError):
        return MlflowUnavailable(
            f"MLflow server unreachable during {operation}: {short_message(str(exc))}", operation=operation
        )
    return MlflowError(f"{operation}: {short_message(str(exc))}", operation=operation)


def answer_error(
    status: int, text: str, operation: str, args: tuple[Any, ...] = (), *, account: str = ""
) -> MlflowError:
    """The domain error for an HTTP answer other than 200 (`text`: its body, MLflow's
    {"error_code", "message"} JSON or plain text): 401/403 a refusal naming what the call needs on its
    subject (`args`, the model name or run id first), 429 / REQUEST_LIMIT_EXCEEDED rate limited (retryable),
    5xx (or INTERNAL_ERROR) MLflow's own server error, RESOURCE_DOES_NOT_EXIST not found, a 404 without
    MLflow's error code no route (MlflowNoRoute: not "no such thing"), then by error code (invalid, already
    exists...). `account`: see refusal_error (the server is not the default one)."""
    try:
        body = json.loads(text)
        code, message = str(body.get("error_code", "")), str(body.get("message", ""))
    except (ValueError, AttributeError):
        code, message = "", text
    if status in (401, 403) or code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return refusal_error(status, code, operation, args, message, account=account)
    if status == 429 or code == "REQUEST_LIMIT_EXCEEDED":
        return rate_limited(operation, f"{code} {message}".strip())
    if status == 404 and not code:  # not MLflow's "does not exist", which always has its error code
        return no_route(operation, message)
    if status == 408:  # a proxy in front of MLflow gave up waiting: not answering
        return MlflowUnavailable(f"MLflow server timed out during {operation} (HTTP 408)", operation=operation)
    if status >= 500 or _CODE_TO_ERROR.get(code) is MlflowServerError:
        return server_error(status if status >= 500 else 500, operation, f"{code} {message}".strip(), body=text)
    error_class = _CODE_TO_ERROR.get(code, MlflowInvalid if status == 400 else MlflowError)
    return error_class(f"{operation}: {short_message(f'{code}: {message}' if code else message)}", operation=operation)


def not_mlflow(operation: str, detail: str) -> MlflowNotMlflow:
    """The tracking URI answered `operation` with something that is not MLflow's JSON."""
    return MlflowNotMlflow(
        f"The tracking URI answered {operation} with a page that is not MLflow's JSON answer (the sign-in or "
        "error page of a proxy in front of MLflow?): check MLFLOW_TRACKING_URI and what sits in front of the "
        f"server; retrying will not help. {short_message(detail, 200)}",
        operation=operation,
    )


def short_message(message: str, limit: int = 400) -> str:
    """One line of a library's error text, without URI credentials or configured secrets (MLflow quotes
    the tracking URI, user:password@ included, in its connection errors)."""
    message = scrub(" ".join(str(message).split()))
    return message if len(message) <= limit else message[: limit - 1] + "…"


def call(operation: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)`; any failure is raised as the MlflowError `translate_error` chooses. Every
    MLflow call goes through here: timed and counted by operation for /metrics (lib.metrics)."""
    with observe_mlflow_call(operation):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # every failure leaves as a domain error
            raise translate_error(exc, operation, args) from exc


def paginate(operation: str, search: Callable[..., Any], **kwargs: Any) -> Iterator[Any]:
    """Every item of an MLflow `search_*` call, following `page_token` until the last page."""
    token: str | None = None
    while True:
        page = call(operation, search, page_token=token, **kwargs)
        yield from page
        token = page.token
        if not token:
            return


# The one map from a gateway error to what a page or the API answers: (status, page title).
_HTTP_STATUS: tuple[tuple[type[MlflowError], int, str], ...] = (
    (MlflowServerError, 502, "MLflow failed with a server error"),
    (MlflowRateLimited, 503, "MLflow is rate limiting mlopsadmin's requests"),
    (MlflowUnavailable, 503, "The MLflow tracking server is not answering"),
    (MlflowServerError, 502, "The MLflow tracking server answered with an internal error"),
    (MlflowNotFound, 404, "Not found in MLflow"),
    (MlflowAuthFailed, 502, "MLflow refused mlopsadmin's credentials"),
    (MlflowNotMlflow, 502, "The tracking URI did not answer as MLflow"),
    (MlflowPermissionDenied, 502, "MLflow refused: the service account lacks a permission"),
    (MlflowError, 502, "MLflow refused the request"),
)


def http_status(exc: MlflowError) -> tuple[int, str]:
    """(HTTP status, page title) for a gateway error: unreachable 503 (only a connection failure or a
    timeout), not found 404, MLflow's own 5xx, a refused login or permission and any other refusal 502."""
    for error_class, status, title in _HTTP_STATUS:
        if isinstance(exc, error_class):
            return status, title
    return 502, "MLflow refused the request"
