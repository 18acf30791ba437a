"""Request id, Content-Security-Policy, session idle timeout, and turning domain errors into clear pages."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from urllib.parse import unquote, urlparse

from django import db
from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    DisallowedHost,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from mlopsadmin.core.errors import DomainError
from mlopsadmin.core.request_context import current_request_id, new_request_id
from mlopsadmin.lib.mlflow_client import MlflowError, http_status
from mlopsadmin.lib.redaction import scrub

logger = logging.getLogger("mlopsadmin.errors")
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Only the app's own scripts and styles; htmx is served from /static/.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if REQUEST_ID_RE.match(incoming) else new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


def content_security_policy() -> str:
    """CSP; the logout form's redirect to the identity provider's end-session endpoint must be allowed by
    form-action (browsers apply it to the redirects that follow a form submission)."""
    end_session = urlparse(getattr(settings, "OIDC_OP_END_SESSION_ENDPOINT", "") or "")
    if end_session.scheme in {"http", "https"} and end_session.netloc:
        return CSP.replace("form-action 'self'", f"form-action 'self' {end_session.scheme}://{end_session.netloc}")
    return CSP


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", content_security_policy())
        return response


class SessionIdleTimeoutMiddleware:
    """The idle timeout: a session expires SESSION_COOKIE_AGE after its last use. Instead of writing the
    session on every request (SESSION_SAVE_EVERY_REQUEST: one UPDATE per page view), the expiry is pushed
    forward at most once per SESSION_REFRESH_SECONDS, so the timeout is exact to within that interval."""

    KEY = "_idle_refreshed_at"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # After the view (a login has just created the session; a logout has just flushed it);
        # SessionMiddleware, outside this one, saves a modified session with a fresh expiry.
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if session is not None and user is not None and user.is_authenticated:
            now = int(time.time())
            if now - int(session.get(self.KEY, 0)) >= settings.SESSION_REFRESH_SECONDS:
                session[self.KEY] = now
        return response


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


INTERNAL_ERROR = "Internal error; it was logged (see the request id)."
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class RequestContractMiddleware:
    """What every request may carry, and the one error shape of the API.

    - A NUL character in the path, the query or a form field is refused with 400 (PostgreSQL cannot store
      it; no view has to think of it).
    - Under /api/, a request body (POST/PUT/PATCH) must be `Content-Type: application/json` (else 415) and
      a JSON object without NUL characters (else 422); `null`, an array or a string is not "{}". A form
      body with no fields counts as no body.
    - Under /api/, every error answer is `{"detail": "..."}` JSON, including Django's own 404, 405 and 500.
    """

    BODY_METHODS = ("POST", "PUT", "PATCH")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            refusal = self._refusal(request)
        except UNREADABLE as exc:  # reading the body here: too big, too many fields, malformed
            refusal = request_refused(request, exc)
        response = refusal or self.get_response(request)
        if is_api(request) and response.status_code >= 400 and not _is_json(response):
            detail = response.reason_phrase or "Error"
            if response.status_code == 405 and response.has_header("Allow"):
                detail = f"Method {request.method} is not allowed here; allowed: {response['Allow']}."
            elif response.status_code == 404:
                detail = f"No API endpoint at {request.path[:200]}."
            elif response.status_code >= 500:
                detail = INTERNAL_ERROR
            json_response = JsonResponse({"detail": detail}, status=response.status_code)
            for header in ("Allow", "X-Request-ID", "Retry-After"):
                if response.has_header(header):
                    json_response[header] = response[header]
            return json_response
        return response

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit():  # Django would fail reading the body with a 500
            return _error_answer(request, "The Content-Length header is not a number of bytes.", 400)
        if "\x00" in request.path or "\x00" in unquote(request.META.get("QUERY_STRING", "")):
            return _error_answer(request, "The address contains a NUL character.", 400)
        if is_api(request):
            return self._api_body_refusal(request)
        if request.method == "POST" and _form_has_nul(request):
            return _error_answer(request, "A form field contains a NUL character.", 400)
        return None

    def _api_body_refusal(self, request: HttpRequest) -> HttpResponse | None:
        if request.method not in self.BODY_METHODS or not request.body:
            return None
        content_type = request.content_type or ""
        if content_type in FORM_TYPES and not request.POST and not request.FILES:
            return None  # a form with no fields carries nothing: the same as no body (`curl -X POST`)
        if content_type != "application/json" and not content_type.endswith("+json"):
            return _error_answer(request, "Send the body as JSON with 'Content-Type: application/json'.", 415)
        try:
            body = json.loads(request.body)
        except ValueError:
            return _error_answer(request, "The request body is not valid JSON.", 422)
        if not isinstance(body, dict):
            return _error_answer(request, f"The request body must be a JSON object, not {type(body).__name__}.", 422)
        if _has_nul(body):
            return _error_answer(request, "The request body contains a NUL character.", 422)
        return None


def _form_has_nul(request: HttpRequest) -> bool:
    request.body  # noqa: B018 - read (and keep) the raw body first, so views may still read it after POST
    return _has_nul({key: request.POST.getlist(key) for key in request.POST})


# What Django raises while reading a request (its body, its Host header) before any view can answer.
UNREADABLE = (SuspiciousOperation, BadRequest, MultiPartParserError)


def refusal_of(exc: Exception) -> tuple[int, str]:
    """(HTTP status, detail) for a request Django refuses to read (`UNREADABLE`): 413 for a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE, else 400 saying which limit or rule it broke. The detail never quotes
    the request (a Host header or a field name is the sender's text)."""
    if isinstance(exc, RequestDataTooBig):
        return 413, f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
    if isinstance(exc, TooManyFieldsSent):
        return 400, f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields."
    if isinstance(exc, TooManyFilesSent):
        return 400, f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files."
    if isinstance(exc, DisallowedHost):
        return 400, "The Host header names a host this server does not answer for (ALLOWED_HOSTS)."
    if isinstance(exc, MultiPartParserError):
        return 400, "The multipart request body cannot be read (malformed)."
    return 400, "The request was refused as malformed."


def request_refused(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The answer to a request Django refuses to read: JSON `{"detail"}` under /api/, plain text for pages."""
    status, detail = refusal_of(exc)
    return _error_answer(request, detail, status)


def _is_json(response: HttpResponse) -> bool:
    return str(response.get("Content-Type", "")).startswith("application/json")


def _error_answer(request: HttpRequest, detail: str, status: int) -> HttpResponse:
    logger.warning("%s %s -> %s: %s", request.method, request.path.replace("\x00", "\\0")[:200], status, detail)
    if is_api(request):
        return JsonResponse({"detail": detail}, status=status)
    return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")


class DomainErrorMiddleware:
    """MLflow down, an unknown object, a refused rule: a readable page (or JSON), never a stack trace."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            getattr(request, "htmx", False)
            and request.method == "POST"
            and response.status_code >= 400
            and not any(h in response for h in ("HX-Push-Url", "HX-Replace-Url", "HX-Location", "HX-Redirect"))
        ):
            # A refused (boosted) form: the address stays the page's; never a POST-only URL that a reload
            # would answer with 405.
            response["HX-Push-Url"] = "false"
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, MlflowError):
            status, title = http_status(exception)
        elif isinstance(exception, DomainError):
            status, title = exception.status, exception.title
        elif isinstance(exception, PermissionDenied) and getattr(request, "htmx", False) and not is_api(request):
            # a permission withdrawn while the page was open: said inside the form, like any refusal
            # (without htmx, Django's 403 page answers as before)
            status, title = 403, "Not allowed"
            exception = DomainError(str(exception) or "You are not allowed to do this.")
        elif isinstance(exception, db.OperationalError | db.InterfaceError):
            # database locked or unreachable: the transaction rolled back, nothing was changed
            status, title = 503, "The database is not available"
            exception = DomainError(f"{title} ({type(exception).__name__}); nothing was changed. Try again shortly.")
        else:
            return None
        message = scrub(str(exception))  # a library's error text may quote a URI with its credentials
        logger.warning("%s %s -> %s: %s", request.method, request.path, status, message)
        if is_api(request):
            return JsonResponse({"detail": message, "error": type(exception).__name__}, status=status)
        template = "htmx/error_fragment.html" if getattr(request, "htmx", False) else "error.html"
        context = {
            "title": title,
            "message": message,
            "status": status,
            "tracking_uri": exception.tracking_uri if isinstance(exception, MlflowError) else "",
            "back_url": _form_page(request),
            "retryable": getattr(exception, "retryable", True),
        }
        response = render(request, template, context, status=status)
        if getattr(request, "htmx", False):
            response["HX-Retarget"] = "#messages"
            response["HX-Reswap"] = "innerHTML"
            response["HX-Push-Url"] = "false"  # a refused (boosted) form stays on its page and its address
        return response


def _form_page(request: HttpRequest) -> str:
    """The page a refused form was posted from (same site only), for the error page's "Back" link
    when the browser posted without htmx; "" when unknown."""
    referer = request.headers.get("Referer", "")
    if request.method != "POST" or not referer:
        return ""
    allowed = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return referer if allowed else ""


class LoginRequiredMiddleware:
    """Django's LoginRequiredMiddleware for pages; the JSON API authenticates itself (token or
    session) and answers 401 as JSON instead of redirecting to the login page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired

        self.get_response = get_response
        self._django = DjangoLoginRequired(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[object, ...],
        view_kwargs: dict[str, object],
    ) -> HttpResponseBase | None:
        if is_api(request):
            return None
        return self._django.process_view(request, view_func, view_args, view_kwargs)
