"""Fixtures of the issue-19 page tests: throw-away models from the registry and promotion fixtures,
and a phone/desktop screenshot helper."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.catalog.conftest import synced  # noqa: F401  (fixture)
from tests.checklists.conftest import monthly  # noqa: F401  (fixture)
from tests.maintenance.conftest import make_experiment, unique  # noqa: F401  (fixture)
from tests.promotion.conftest import make_model  # noqa: F401  (fixture)
from tests.registry.conftest import drift_is_lower_is_better, own_model  # noqa: F401  (fixture)

SHOTS = Path(os.environ.get("MLOPSADMIN_SCREENSHOTS", "")) if os.environ.get("MLOPSADMIN_SCREENSHOTS") else None


def page_overflow(page) -> int:  # type: ignore[no-untyped-def]
    """How many CSS pixels the page is wider than the viewport, not counting content inside a
    horizontally scrolling table wrapper (.table-wrap), which is allowed to scroll."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


@pytest.fixture
def shoot():  # type: ignore[no-untyped-def]
    """shoot(page, "name"): a full-page screenshot into $MLOPSADMIN_SCREENSHOTS (when set) for review."""

    def _shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
        if SHOTS is not None:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    return _shoot
