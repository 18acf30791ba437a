from typing import Any

from django.http import HttpRequest

from mlopsadmin.core.admin import ReadOnlyAdmin, site
from registry_ui.models import ApprovalRequest


class ReadOnlyApprovalAdmin(ReadOnlyAdmin):
    """Approval requests change only through the workflow (services); the admin only shows them.
    Naming words and required metadata are edited on /registry/settings/ (audited)."""

    list_display = ("id", "model_name", "version", "team", "requester", "state", "decided_by", "created_at")
    list_filter = ("state", "team")
    search_fields = ("model_name",)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return site.has_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return site.has_permission(request)


site.register(ApprovalRequest, ReadOnlyApprovalAdmin)
