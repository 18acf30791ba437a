"""Responses shared by the pages that post forms, with or without htmx."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


def redirect_after_post(request: HttpRequest, url: str) -> HttpResponse:
    """After a successful POST: a redirect, or HX-Location for htmx so the page reloads in place."""
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Location"] = url
        return response
    return redirect(url)
