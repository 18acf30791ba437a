from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from mlopsadmin import policy
from mlopsadmin.core.dashboard import badge_targets, badges_for

NAVIGATION = [
    ("home", "Home", "home"),
    ("catalog", "Catalog", "catalog:index"),
    ("registry", "Registry", "registry:index"),
    ("maintenance", "Maintenance", "maintenance:index"),
    ("checklists", "Checklists", "checklists:index"),
    ("audit", "Audit", "audit:index"),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": [], "nav_badges": {}, "nav_badge_targets": {}, "nav_key": ""}
    items = [
        (key, label, url_name)
        for key, label, url_name in NAVIGATION
        if key != "audit" or policy.can(user, policy.Action.AUDIT_VIEW)
    ]
    return {
        # base.html reads nav_key; a page without one must not make the template engine log its context
        "nav_key": "",
        "navigation": items,
        "nav_badges": badges_for(user),
        "nav_badge_targets": badge_targets(),
        "user_roles": sorted(policy.role_names(user)),
        "is_admin": policy.is_admin(user),
    }
