"""Sign-in pages: the login page with the company button, the OIDC start and callback, and logout
(through the provider's end-session endpoint when it has one)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from mlopsadmin.accounts.backends import oidc_enabled
from mlopsadmin.accounts.services import SignInRefused
from mlopsadmin.core.views import RateLimitedLoginView

logger = logging.getLogger("mlopsadmin.accounts")


class LoginView(RateLimitedLoginView):
    """The core login (rate limited) plus the company button; password sign-in as LOCAL_LOGIN allows."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            oidc_enabled=oidc_enabled(),
            oidc_provider_name=settings.OIDC_PROVIDER_NAME,
            local_login=settings.LOCAL_LOGIN,
        )
        return context

    def form_invalid(self, form: Any) -> HttpResponse:
        if getattr(self.request, "local_login_refused", False):
            form.errors.clear()
            form.add_error(
                None,
                "Password sign-in is reserved for the break-glass admin; use the company sign-in."
                if settings.LOCAL_LOGIN == "admins"
                else "Password sign-in is switched off; use the company sign-in.",
            )
        return super().form_invalid(form)


def _require_enabled() -> None:
    if not oidc_enabled():
        raise Http404("Company sign-in is not configured (OIDC_RP_CLIENT_ID is not set).")


@login_not_required
def oidc_start(request: HttpRequest) -> HttpResponse:
    """GET: redirect to the provider's authorization endpoint with state, nonce and a PKCE challenge."""
    _require_enabled()
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    return OIDCAuthenticationRequestView.as_view()(request)


class CallbackView(OIDCAuthenticationCallbackView):
    """The library's callback (state looked up and consumed, nonce and signature verified), answering a
    refused or failed sign-in with the login page and a reason instead of an error page."""

    def login_failure(self) -> HttpResponse:
        if not any(True for _ in messages.get_messages(self.request)):
            messages.error(self.request, "Company sign-in did not complete. Try again.")
        return redirect("login")

    def get(self, request: HttpRequest) -> HttpResponse:
        if request.GET.get("error"):
            messages.error(request, f"The identity provider refused the sign-in ({request.GET['error'][:80]}).")
        try:
            return super().get(request)
        except SuspiciousOperation:
            messages.error(request, "This sign-in response does not belong to a sign-in started here (state).")
        except SignInRefused as exc:
            messages.error(request, str(exc))
        except jwt.PyJWTError as exc:  # expired or not yet valid ID token: the library lets these through
            logger.warning("OIDC ID token refused: %s", type(exc).__name__)
            messages.error(request, "The identity provider's answer could not be verified. Try again.")
        except requests.HTTPError as exc:  # the provider answered, and refused (e.g. a PKCE verifier mismatch)
            status = exc.response.status_code if exc.response is not None else "?"
            logger.warning("OIDC provider refused a request: HTTP %s", status)
            messages.error(request, f"The identity provider refused to complete the sign-in (HTTP {status}).")
        except requests.RequestException as exc:
            logger.warning("OIDC provider request failed: %s", type(exc).__name__)
            messages.error(request, "The identity provider could not be reached. Try again shortly.")
        return redirect("login")


_callback = CallbackView.as_view()


@login_not_required
def oidc_callback(request: HttpRequest) -> HttpResponse:
    """GET: the provider's redirect back with code and state."""
    _require_enabled()
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    return _callback(request)


def provider_logout_url(request: HttpRequest) -> str:
    """Where to send the browser after the local logout: the provider's end-session endpoint (RP-initiated
    logout, with id_token_hint) for a session signed in there, else the login page."""
    login_url = request.build_absolute_uri(reverse("login"))
    id_token = request.session.get("oidc_id_token")
    if not (settings.OIDC_OP_END_SESSION_ENDPOINT and id_token):
        return reverse("login")
    query = urlencode(
        {"id_token_hint": id_token, "post_logout_redirect_uri": login_url, "client_id": settings.OIDC_RP_CLIENT_ID}
    )
    return f"{settings.OIDC_OP_END_SESSION_ENDPOINT}?{query}"


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """POST: end the session here, then (company sign-in) at the provider. (Anonymous: the login page.)"""
    target = provider_logout_url(request)
    auth.logout(request)
    return HttpResponseRedirect(target)
