"""Typed requests and the htmx helpers shared by the pages: `HtmxHttpRequest` (as django-htmx's example
project does), `AuthenticatedHttpRequest`, and the response after a form POST, with or without htmx."""

from __future__ import annotations

import json

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """An HttpRequest after `django_htmx.middleware.HtmxMiddleware`: `request.htmx` is truthy when htmx sent
    it (`.target`, `.trigger`, `.boosted` ...). Annotate a view's request with it to read `request.htmx`."""

    htmx: HtmxDetails


class AuthenticatedHttpRequest(HttpRequest):
    """A request of a signed-in person: every page except the login page requires sign-in
    (`LoginRequiredMiddleware`), so their views may annotate the request with this to use `request.user`
    as a `User`."""

    user: User


def redirect_after_post(request: HttpRequest, url: str) -> HttpResponse:
    """After a successful POST: a redirect, or HX-Location for htmx so the page reloads in place."""
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Location"] = url
        return response
    return redirect(url)


def swaps(request: HttpRequest, element_id: str) -> bool:
    """True when htmx asks for the piece of the page whose id is `element_id` (its hx-target), so the view
    answers that fragment; False for every other request, including htmx's own navigations: an HX-Location
    after a form (redirect_after_post), a finished poller's refresh, a boosted link, a history restore.
    Those swap the whole body and must get the whole page: a view that answered them with its fragment
    replaced the page by a bare table (the registry after "Sync now", issue 19 break-test)."""
    htmx = getattr(request, "htmx", None)
    if not htmx:
        return False
    return not htmx.history_restore_request and htmx.target == element_id


def wants_fragment(request: HttpRequest) -> bool:
    """True for an htmx request that swaps a piece of the page (hx-get/hx-post); False for a plain
    request and for a boosted form submit (static/js/app.js boosts every POST form), which expects a
    whole page or a redirect, like a browser without JavaScript."""
    htmx = getattr(request, "htmx", None)
    if not htmx:
        return False
    return not htmx.boosted


def stop_polling_and_refresh(request: HttpRequest, fragment: HttpResponse) -> HttpResponse:
    """The answer of a poller whose task has just finished: 286 (htmx stops polling) and, for an htmx
    poll, HX-Location to the page the poller sits on, so that whole page (a plan's candidates and its
    Execute button, a task's started/finished times, a reaper's list, the catalog table) is rendered
    again in place, without a browser reload. `fragment` is the finished card, used without htmx."""
    response = HttpResponse(fragment.content, status=286, content_type=fragment.get("Content-Type"))
    htmx = getattr(request, "htmx", None)
    current = htmx.current_url_abs_path if htmx else None
    if current and url_has_allowed_host_and_scheme(current, allowed_hosts={request.get_host()}):
        response["HX-Location"] = json.dumps({"path": current, "target": "body"})
    return response
