"""MLflow failures as domain errors, and the one MLflow-error -> HTTP status map.

Part of the MLflow gateway (`mlopsadmin/lib/mlflow_client.py` is its public face). Every gateway call goes
through `call` (or `paginate`), so every failure leaves the gateway as an `MlflowError` whose `retryable`
says whether trying again later can help. Error texts never carry URI credentials or configured secrets.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests

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
    """The server could not be reached, timed out, or answered 5xx."""

    retryable = True


class MlflowNotFound(MlflowError):
    pass


class MlflowInvalid(MlflowError):
    pass


class MlflowConflict(MlflowError):
    """The thing already exists (e.g. an experiment name is taken)."""


class MlflowPermissionDenied(MlflowError):
    pass


class MlflowServerError(MlflowError):
    """The server answered, with an internal error (HTTP 5xx or INTERNAL_ERROR): it is up, the request
    failed on its side. Trying again later may help; it is not "not answering"."""

    retryable = True


_CODE_TO_ERROR: dict[str, type[MlflowError]] = {
    "RESOURCE_DOES_NOT_EXIST": MlflowNotFound,
    "NOT_FOUND": MlflowNotFound,
    "INVALID_PARAMETER_VALUE": MlflowInvalid,
    "BAD_REQUEST": MlflowInvalid,
    "INVALID_STATE": MlflowInvalid,
    "RESOURCE_ALREADY_EXISTS": MlflowConflict,
    "PERMISSION_DENIED": MlflowPermissionDenied,
    "UNAUTHENTICATED": MlflowPermissionDenied,
    "INTERNAL_ERROR": MlflowServerError,
    "TEMPORARILY_UNAVAILABLE": MlflowUnavailable,
    "REQUEST_LIMIT_EXCEEDED": MlflowUnavailable,
}


def translate_error(exc: BaseException, operation: str) -> MlflowError:
    """The domain error for any failure of an MLflow call (`operation` names the call in the message)."""
    if isinstance(exc, MlflowError):
        return exc
    # mlflow is imported lazily (mlflow_connection); an exception can only be one of its classes once it is.
    exceptions = sys.modules.get("mlflow.exceptions")
    if exceptions is not None and isinstance(exc, exceptions.MlflowException):
        RestException = exceptions.RestException  # noqa: N806
        code = str(getattr(exc, "error_code", "") or "")
        message = exc.message if hasattr(exc, "message") else str(exc)
        if not isinstance(exc, RestException) and (
            "failed with error code 5" in message or re.search(r"too many 5\d\d error responses", message)
        ):  # the server answered 5xx (without an MLflow error body): up, but failing on its side
            return MlflowServerError(
                f"MLflow server error during {operation}: {short_message(message)}", operation=operation
            )
        if not isinstance(exc, RestException) and (
            "Max retries exceeded" in message
            or "timed out" in message
            or "Connection" in message
            or "API request to" in message
        ):
            return MlflowUnavailable(
                f"MLflow server unreachable during {operation}: {short_message(message)}", operation=operation
            )
        error_class = _CODE_TO_ERROR.get(code, MlflowError)
        return error_class(f"{operation}: {short_message(message)}", operation=operation)
    if isinstance(exc, requests.exceptions.RequestException | ConnectionError | TimeoutError | OSError):
        return MlflowUnavailable(
            f"MLflow server unreachable during {operation}: {short_message(str(exc))}", operation=operation
        )
    return MlflowError(f"{operation}: {short_message(str(exc))}", operation=operation)


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
            raise translate_error(exc, operation) from exc


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
    (MlflowUnavailable, 503, "The MLflow tracking server is not answering"),
    (MlflowServerError, 502, "The MLflow tracking server answered with an internal error"),
    (MlflowNotFound, 404, "Not found in MLflow"),
    (MlflowError, 502, "MLflow refused the request"),
)


def http_status(exc: MlflowError) -> tuple[int, str]:
    """(HTTP status, page title) for a gateway error: unreachable 503, not found 404, any other refusal 502."""
    for error_class, status, title in _HTTP_STATUS:
        if isinstance(exc, error_class):
            return status, title
    return 502, "MLflow refused the request"
