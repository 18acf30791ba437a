"""Test seams of the promotion feature: hooks the tests use to inject a fault at an exact point of an alias
change (MLflow or Redis going away between two writes). Nothing in the product adds to them, so they are
empty in production and cost one empty loop per write."""

from __future__ import annotations

from collections.abc import Callable

# Called with the index of each MLflow write of an alias change (0, 1, ...) just before it is sent.
before_write: list[Callable[[int], None]] = []
