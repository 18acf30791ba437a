"""Settings that used to live only in pages or environment variables, stored so one TOML file can
hold them (configuration.files): the gate defaults (global and per team), cleanup defaults, schedule
overrides, notification targets, and the model-name patterns by which teams own registered models."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ConfigSetting(models.Model):
    """One named value (JSON). Keys: 'gate.default', 'gate.team:<team>', 'cleanup', 'notifications',
    'schedule:<entry>'. A missing row means "the built-in default" (settings.py / schedules.py)."""

    key = models.CharField(max_length=200, unique=True)
    value = models.JSONField()
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class ModelPattern(models.Model):
    """A glob (`*`, `?`) over registered model names owned by a team. Precedence (core.selectors.
    team_for_model): an explicit core.ModelOwnership first, then the most specific matching pattern (most
    literal characters), then the team's legacy regular expression. Two teams' patterns of equal
    specificity that can match the same name are refused when the configuration is applied."""

    pattern = models.CharField(max_length=256, unique=True)
    team = models.ForeignKey("core.Team", on_delete=models.CASCADE, related_name="model_patterns")

    class Meta:
        ordering = ["pattern"]

    def __str__(self) -> str:
        return f"{self.pattern} → {self.team}"
