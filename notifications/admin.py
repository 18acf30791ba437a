"""Admin: per-team webhooks, for the Admin role (policy, like the rest of the admin) and audited. The URL
is a secret (whoever has it can post): the list and the audit events show only its host and the form never
renders it back (leave the field empty to keep the current URL)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.validators import URLValidator

from mlopsadmin.core.admin import AuditedAdmin, site
from notifications.channels import redact_url
from notifications.models import TeamWebhook


class TeamWebhookForm(forms.ModelForm):
    url = forms.URLField(
        max_length=1000,
        required=False,
        validators=[URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// webhook URL.")],
        widget=forms.PasswordInput(render_value=False),
        help_text="Slack-compatible incoming webhook URL. Never shown again; leave empty to keep the current one.",
    )

    class Meta:
        model = TeamWebhook
        fields = ("team", "url", "enabled")

    def clean_url(self) -> str:
        url: str = self.cleaned_data.get("url") or ""
        if not url and self.instance.pk:
            return self.instance.url
        if not url:
            raise forms.ValidationError("A webhook URL is required.")
        return url


@admin.register(TeamWebhook, site=site)
class TeamWebhookAdmin(AuditedAdmin):
    form = TeamWebhookForm
    target_kind = "team_webhook"
    secret_fields = ("url",)
    list_display = ("team", "shown_url", "enabled")

    def snapshot(self, obj: TeamWebhook) -> dict[str, Any]:
        return {"team": obj.team.name, "url": redact_url(obj.url), "enabled": obj.enabled}

    @admin.display(description="URL")
    def shown_url(self, obj: TeamWebhook) -> str:
        return redact_url(obj.url)

    def get_changeform_initial_data(self, request: Any) -> dict[str, Any]:
        return {}
