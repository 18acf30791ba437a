"""The search results page: thin, one selector call."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from mlopsadmin.search import selectors


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    """`/search/?q=…`: every model, version, experiment and run the user may see that the text names."""
    query = selectors.clean_query(request.GET.get("q"))
    results = selectors.search(request.user, query)
    context = {"title": f"Search: {query}" if query else "Search", "results": results, "sections": selectors.SECTIONS}
    return render(request, "search.html", context)
