"""Read-only admin views of the alias history and the lock leases (changes go through the services)."""

from __future__ import annotations

from django.contrib import admin

from mlopsadmin.core.admin import ReadOnlyAdmin, site
from registry_ui.promotion.models import AliasEvent, ModelLock


@admin.register(AliasEvent, site=site)
class AliasEventAdmin(ReadOnlyAdmin):
    list_display = [
        "occurred_at",
        "model_name",
        "alias",
        "from_version",
        "to_version",
        "action",
        "actor_name",
        "source",
        "outcome",
    ]
    list_filter = ["source", "action", "outcome"]
    search_fields = ["model_name"]


@admin.register(ModelLock, site=site)
class ModelLockAdmin(ReadOnlyAdmin):
    list_display = ["model_name", "holder", "expires_at"]
