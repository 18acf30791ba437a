"""Extension points the feature apps fill in their AppConfig.ready(): home-page tiles, the home page's
"for you" sections and nav badges.

A tile provider takes the user and returns Tile objects; a "for you" provider returns MySection objects
(the user's own work: their requests, decisions waiting for them, their team's models, checklist items
due, their recent actions); a badge provider returns a count shown next to a navigation item (e.g.
pending approvals for ML leads). Apps register a provider by its dotted path
("catalog.dashboard.catalog_tiles"), imported when a page first asks for it: every process runs ready(),
and a `manage.py` command should not import each app's selectors (and the gateway behind them) to start.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass
class Tile:
    title: str
    value: str
    url: str
    detail: str = ""
    level: str = "info"  # info, ok, warning, critical
    items: list[str] = field(default_factory=list)
    order: int = 50


@dataclass
class MyItem:
    """One line of a "for you" section: what, where it leads, a detail line and an optional level
    (warning, critical) for what is late or missing."""

    text: str
    url: str = ""
    detail: str = ""
    level: str = ""


@dataclass
class MySection:
    """A "for you" section of the home page. `count` is the whole number (the items may be the first
    few only); `empty` is what the section says when there is nothing; `error` when it could not be read."""

    key: str
    title: str
    items: list[MyItem]
    count: int
    empty: str
    more_url: str = ""
    more_label: str = ""
    order: int = 50
    error: str = ""

    @property
    def rest(self) -> int:
        """How many more there are than the items shown."""
        return max(0, self.count - len(self.items))


MY_ITEMS = 8  # items shown per "for you" section; the rest behind its "see all" link

TileProvider = Callable[[Any], list[Tile]]
MySectionProvider = Callable[[Any], list[MySection]]
BadgeProvider = Callable[[Any], int]

_tile_providers: list[TileProvider | str] = []
_my_providers: list[MySectionProvider | str] = []
_badge_providers: dict[str, BadgeProvider | str] = {}
_badge_targets: dict[str, tuple[str, str]] = {}
_shared_badges: set[str] = set()
_SHARED_KEY = "nav-badge:v2:{}"  # (generation it was computed under, count); v2: a bare count before
_GENERATION_KEY = "nav-badge-generation:{}"  # renewed by badge_changed


def register_tiles(provider: TileProvider | str) -> TileProvider | str:
    """Add a tile provider: a callable, or its dotted path (imported on first use)."""
    if provider not in _tile_providers:
        _tile_providers.append(provider)
    return provider


def register_my_sections(provider: MySectionProvider | str) -> MySectionProvider | str:
    """Add a "for you" section provider: a callable, or its dotted path (imported on first use)."""
    if provider not in _my_providers:
        _my_providers.append(provider)
    return provider


def register_badge(
    nav_key: str, provider: BadgeProvider | str, *, url_name: str = "", label: str = "", shared: bool = False
) -> None:
    """Show provider(user) next to the nav item `nav_key` when it is not 0; `provider` is a callable or
    its dotted path (imported on first use). The badge links to the URL named `url_name` (default: the
    nav item's own page); `label` says what it counts ("approvals waiting for your decision") for screen
    readers and the tooltip. `shared`: the count is the same for every user (overdue checklists, a capacity
    warning): computed once per settings.NAV_SHARED_BADGE_SECONDS for every user, page and process (the
    cache), and again on the next page after `badge_changed(nav_key)` — what changes it calls that (issue 20:
    the page frame's queries)."""
    _badge_providers[nav_key] = provider
    if url_name:
        _badge_targets[nav_key] = (url_name, label)
    if shared:
        _shared_badges.add(nav_key)


def badge_changed(nav_key: str) -> None:
    """A shared badge's count may have changed: the next page computes it again. Called by the change (inside
    its transaction or not): the badge's generation is renewed now and again once the transaction commits. A
    count is kept with the generation read before it was computed and used only while that generation stands,
    so a page that read the count before the commit, and stores it after, cannot show it for the window (a
    plain delete did not stop that page's later write)."""
    key = _GENERATION_KEY.format(nav_key)
    cache.set(key, uuid.uuid4().hex, timeout=None)
    transaction.on_commit(lambda: cache.set(key, uuid.uuid4().hex, timeout=None))


def badge_targets() -> dict[str, tuple[str, str]]:
    """{nav_key: (url name, label)} of the badges that link somewhere else than their nav item."""
    return dict(_badge_targets)


def _resolved(provider: Callable[[Any], Any] | str) -> Callable[[Any], Any]:
    return import_string(provider) if isinstance(provider, str) else provider


def tiles_for(user: Any) -> list[Tile]:
    tiles: list[Tile] = []
    for registered in _tile_providers:
        provider = _resolved(registered)
        try:
            tiles.extend(provider(user))
        except Exception as exc:  # one broken tile must not take the home page down
            logger.warning("tile provider %s failed: %s", getattr(provider, "__name__", provider), exc)
            tiles.append(
                Tile(
                    title=getattr(provider, "__name__", "tile"),
                    value="unavailable",
                    url="",
                    detail=str(exc)[:200],
                    level="warning",
                )
            )
    return sorted(tiles, key=lambda t: t.order)


def my_sections_for(user: Any) -> list[MySection]:
    """The signed-in user's "for you" sections, in order; a provider that fails gives one section that says
    so (the home page never goes down with it)."""
    sections: list[MySection] = []
    for registered in _my_providers:
        provider = _resolved(registered)
        try:
            sections.extend(provider(user))
        except Exception as exc:
            name = getattr(provider, "__name__", "section")
            logger.warning("home section provider %s failed: %s", name, exc)
            sections.append(MySection(key=name, title=name, items=[], count=0, empty="", error=str(exc)[:200]))
    return sorted(sections, key=lambda s: s.order)


def badges_for(user: Any) -> dict[str, int]:
    """{nav_key: count} of every registered badge for `user` (a provider that fails is left out and logged);
    the shared ones from the cache when computed within settings.NAV_SHARED_BADGE_SECONDS."""
    window = float(settings.NAV_SHARED_BADGE_SECONDS)
    shared = [key for key in _badge_providers if key in _shared_badges] if window > 0 else []
    names = [name for key in shared for name in (_SHARED_KEY.format(key), _GENERATION_KEY.format(key))]
    known = cache.get_many(names) if names else {}
    counts: dict[str, int] = {}
    fresh: dict[str, tuple[str | None, int]] = {}
    for key, provider in _badge_providers.items():
        generation = known.get(_GENERATION_KEY.format(key))  # read before the count: a change since renews it
        cached = known.get(_SHARED_KEY.format(key))
        if isinstance(cached, tuple | list) and len(cached) == 2 and cached[0] == generation:
            counts[key] = int(cached[1])
            continue
        try:
            counts[key] = _resolved(provider)(user)
        except Exception as exc:
            logger.warning("badge provider %s failed: %s", key, exc)
            continue
        if key in shared:
            fresh[_SHARED_KEY.format(key)] = (generation, counts[key])
    if fresh:
        cache.set_many(fresh, timeout=window)
    return counts
