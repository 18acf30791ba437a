from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from mlopsadmin.core.admin import site
from registry_ui.models import ApprovalRequest


class ReadOnlyApprovalAdmin(admin.ModelAdmin):
    """Approval requests change only through the workflow (services); the admin only shows them.
    Naming words and required metadata are edited on /registry/settings/ (audited)."""

    list_display = ("id", "model_name", "version", "team", "requester", "state", "decided_by", "created_at")
    list_filter = ("state", "team")
    search_fields = ("model_name",)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return site.has_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return site.has_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


site.register(ApprovalRequest, ReadOnlyApprovalAdmin)
