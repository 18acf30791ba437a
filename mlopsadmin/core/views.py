"""Pages of the core: home, health, login (rate limited), API tokens. Audit pages: mlopsadmin/audit/."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views import defaults
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mlopsadmin import policy
from mlopsadmin.core import health
from mlopsadmin.core.dashboard import my_sections_for, tiles_for
from mlopsadmin.core.errors import InvalidInput
from mlopsadmin.core.htmx import AuthenticatedHttpRequest
from mlopsadmin.core.middleware import INTERNAL_ERROR, request_refused
from mlopsadmin.core.models import ApiToken
from mlopsadmin.core.services import api_token_create, api_token_revoke


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for pages as a page, for the API as JSON (an unknown API path is still an API answer)."""
    said = exception.args[0] if exception.args and isinstance(exception.args[0], str) else ""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": said or f"No API endpoint at {request.path}."}, status=404)
    return render(request, "404.html", {"exception": said or "There is nothing at this address."}, status=404)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 handler, for what it refuses while reading a request outside our middleware (a Host
    header, a body read by the CSRF check): the same answers as RequestContractMiddleware gives, 413 for a
    body over DATA_UPLOAD_MAX_MEMORY_SIZE, JSON under /api/."""
    return request_refused(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 handler: under /api/ the API's JSON error shape (an error outside any view), else the 500 page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": INTERNAL_ERROR}, status=500)
    return defaults.server_error(request)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    context = {"sections": my_sections_for(request.user), "tiles": tiles_for(request.user), "nav_key": "home"}
    return render(request, "home.html", context)


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report = health.health_report()
    if not request.user.is_authenticated:  # anonymous callers (load balancers) get no details
        report = {"ok": report["ok"], "checks": {k: {"ok": v["ok"]} for k, v in report["checks"].items()}}
    return JsonResponse(report, status=200 if report["ok"] else 503)


def _login_key(request: HttpRequest) -> str:
    username = (request.POST.get("username") or "").lower()[:150]
    return f"login-failures:{request.META.get('REMOTE_ADDR', '')}:{username}"


class RateLimitedLoginView(auth_views.LoginView):
    """Django's login, refusing further attempts for a window after too many failures."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        key = _login_key(request)
        if (cache.get(key) or 0) >= settings.LOGIN_RATE_LIMIT:
            minutes = max(1, settings.LOGIN_RATE_WINDOW_SECONDS // 60)
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, f"Too many failed attempts. Try again in {minutes} minute(s).")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        key = _login_key(self.request)
        cache.add(key, 0, settings.LOGIN_RATE_WINDOW_SECONDS)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, settings.LOGIN_RATE_WINDOW_SECONDS)
        return super().form_invalid(form)

    def form_valid(self, form: Any) -> HttpResponse:
        cache.delete(_login_key(self.request))
        return super().form_valid(form)


TOKEN_LIFETIME_CHOICES = [("", "never"), ("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year")]


@require_http_methods(["GET", "POST"])
def api_tokens(request: AuthenticatedHttpRequest) -> HttpResponse:
    new_token, status = None, 200
    if request.method == "POST":
        policy.require(request.user, policy.Action.TOKEN_MANAGE_OWN)
        days = (request.POST.get("expires_in_days") or "").strip()
        try:
            if days and not days.isdigit():
                raise InvalidInput("Choose how many days the token lives, or 'never'.")
            _, new_token = api_token_create(
                actor=request.user,
                user=request.user,
                name=request.POST.get("name", ""),
                expires_in_days=int(days) if days else None,
                read_only=request.POST.get("read_only") == "on",
            )
            messages.success(request, "Token created. Copy it now: it is shown only once.")
        except InvalidInput as exc:  # shown above the form, which stays on the page
            messages.error(request, str(exc))
            status = 400
    tokens = ApiToken.objects.filter(user=request.user)
    return render(
        request,
        "tokens.html",
        {
            "tokens": tokens,
            "new_token": new_token,
            "may_manage": policy.can(request.user, policy.Action.TOKEN_MANAGE_OWN),
            "lifetimes": TOKEN_LIFETIME_CHOICES,
        },
        status=status,
    )


@require_POST
def api_token_revoke_view(request: AuthenticatedHttpRequest, token_id: int) -> HttpResponse:
    policy.require(request.user, policy.Action.TOKEN_MANAGE_OWN)
    token = api_token_revoke(actor=request.user, user=request.user, token_id=token_id)
    messages.success(request, f"Token {token.name} revoked.")
    return redirect("tokens")
