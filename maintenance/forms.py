"""Input forms of the maintenance page (validation of shape; rules live in the services)."""

from __future__ import annotations

from django import forms

from maintenance.cleanup.plan import CLEANUP_STATUSES


class PlanForm(forms.Form):
    scope = forms.ChoiceField(
        choices=[("experiment", "One experiment"), ("team", "A team's experiments"), ("all", "All experiments")]
    )
    scope_value = forms.CharField(required=False, max_length=512, label="Experiment (name or id) or team")
    older_than_days = forms.IntegerField(min_value=0, max_value=36500, required=False, label="Older than (days)")
    statuses = forms.MultipleChoiceField(
        choices=[(s, s) for s in CLEANUP_STATUSES], required=False, widget=forms.CheckboxSelectMultiple
    )


class ExecuteForm(forms.Form):
    confirm = forms.BooleanField(required=False, label="I reviewed this plan")
    purge = forms.BooleanField(required=False, label="Also purge (hard-delete) exactly the deleted runs")


class ResumeForm(forms.Form):
    confirm = forms.BooleanField(required=False, label="Resume: delete the rest of this plan")


class ReaperForm(forms.Form):
    dry_run = forms.BooleanField(required=False, initial=True)
    threshold_hours = forms.FloatField(required=False, min_value=0.01, max_value=8760)
    experiment = forms.CharField(required=False, max_length=512)
