"""Team, membership and role management in Django's admin, gated by the policy module and audited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.http import HttpRequest

from mlopsadmin import policy
from mlopsadmin.audit.services import audit_record
from mlopsadmin.core.models import ApiToken, AuditEvent, Membership, ModelOwnership, Team
from mlopsadmin.core.services import team_snapshot, user_snapshot


class MlopsAdminSite(admin.AdminSite):
    site_header = "mlopsadmin administration"
    site_title = "mlopsadmin admin"

    def has_permission(self, request: HttpRequest) -> bool:
        return policy.can(request.user, policy.Action.TEAM_MANAGE)


site = MlopsAdminSite(name="admin")


class SecretFieldsAdmin(admin.ModelAdmin):
    """Refuses list lookups on secret fields (`secret_fields`). The admin accepts lookups on a model's own
    fields from the query string (`?url__startswith=https://hooks.slack.com/services/T0`), and the row count
    that answers tells whether a guess was right, one character at a time: such a request is a 400."""

    secret_fields: tuple[str, ...] = ()

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        if lookup.split("__", 1)[0] in self.secret_fields:
            return False
        return bool(super().lookup_allowed(lookup, value, request))


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records written only by the app's services (audit events, approvals, alias history, locks)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AuditedAdmin(SecretFieldsAdmin):
    """Every add, change and delete made in the admin writes one audit event."""

    target_kind = "object"

    def snapshot(self, obj: Any) -> dict[str, Any]:
        return {"repr": str(obj)}

    def has_module_permission(self, request: HttpRequest) -> bool:
        return site.has_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return site.has_permission(request)

    has_add_permission = has_module_permission
    has_change_permission = has_view_permission
    has_delete_permission = has_view_permission

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = self.snapshot(type(obj).objects.get(pk=obj.pk)) if change and obj.pk else None
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action=f"{self.target_kind}.{'update' if change else 'create'}",
            target_kind=self.target_kind,
            target_id=str(obj),
            before=before,
            after=self.snapshot(obj),
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        before = self.snapshot(obj)
        super().delete_model(request, obj)
        audit_record(
            actor=request.user,
            action=f"{self.target_kind}.delete",
            target_kind=self.target_kind,
            target_id=str(obj),
            before=before,
        )

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


@admin.register(Team, site=site)
class TeamAdmin(AuditedAdmin):
    target_kind = "team"
    list_display = ["name", "display_name", "experiment_prefix", "model_name_pattern"]
    inlines = [MembershipInline]

    def snapshot(self, obj: Any) -> dict[str, Any]:
        return {**team_snapshot(obj), "members": sorted(obj.memberships.values_list("user__username", flat=True))}


class ModelOwnershipForm(forms.ModelForm):
    class Meta:
        model = ModelOwnership
        fields = ["model_name", "team"]

    def clean_model_name(self) -> str:
        """The one model-name rule (registry_ui/validation.py: what MLflow's registry accepts), inline."""
        from registry_ui.validation import model_name_problem

        name = self.cleaned_data["model_name"]
        if (problem := model_name_problem(name)) is not None:
            raise forms.ValidationError(problem)
        return name


@admin.register(ModelOwnership, site=site)
class ModelOwnershipAdmin(AuditedAdmin):
    target_kind = "model_ownership"
    form = ModelOwnershipForm
    list_display = ["model_name", "team"]

    def snapshot(self, obj: Any) -> dict[str, Any]:
        return {"model_name": obj.model_name, "team": obj.team.name}


@admin.register(User, site=site)
class AuditedUserAdmin(AuditedAdmin, UserAdmin):
    target_kind = "user"
    secret_fields = ("password",)
    inlines = [MembershipInline]

    def snapshot(self, obj: Any) -> dict[str, Any]:
        return user_snapshot(obj)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        before = user_snapshot(form.instance)
        super().save_related(request, form, formsets, change)
        after = user_snapshot(form.instance)
        if before != after:
            audit_record(
                actor=request.user,
                action="user.roles_update",
                target_kind="user",
                target_id=form.instance.username,
                before=before,
                after=after,
            )


@admin.register(Group, site=site)
class AuditedGroupAdmin(AuditedAdmin, GroupAdmin):
    target_kind = "role"


@admin.register(ApiToken, site=site)
class ApiTokenAdmin(SecretFieldsAdmin):
    secret_fields = ("token_hash",)
    list_display = ["user", "name", "hint", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["user", "name", "hint", "created_at", "last_used_at", "revoked_at"]
    exclude = ["token_hash"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent, site=site)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the audit log is append-only everywhere, the admin included."""

    list_display = ["occurred_at", "actor_name", "action", "target_kind", "target_id", "outcome"]
