"""GET /metrics: the Prometheus exposition, for a scraper holding METRICS_TOKEN (Authorization: Bearer)
or calling from a network in METRICS_ALLOWED_NETWORKS. Anyone else gets 403; with neither set, nobody."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from mlopsadmin.lib.metrics import exposition
from monitoring.collectors import DatabaseCollector


def scrape_allowed(request: HttpRequest) -> bool:
    token = str(getattr(settings, "METRICS_TOKEN", "") or "")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip(), token):
        return True
    networks = getattr(settings, "METRICS_ALLOWED_NETWORKS", []) or []
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in networks)


@login_not_required
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not scrape_allowed(request):
        return HttpResponse(
            "Metrics need 'Authorization: Bearer <METRICS_TOKEN>' or a caller in METRICS_ALLOWED_NETWORKS.\n",
            status=403,
            content_type="text/plain",
        )
    body, content_type = exposition([DatabaseCollector()])
    return HttpResponse(body, content_type=content_type)
