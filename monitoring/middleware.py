"""Request latency by view (URL name) for /metrics. Requests that match no URL count as 'unresolved'."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from mlopsadmin.lib.metrics import observe_request


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match.route) if match else "unresolved"
        observe_request(view, request.method or "GET", response.status_code, time.perf_counter() - started)
        return response
