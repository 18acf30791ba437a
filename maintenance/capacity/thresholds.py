"""Capacity thresholds: the artifact store and tracking database sizes compared with the
MAINTENANCE_*_WARNING/CRITICAL_BYTES settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from mlopsadmin.core.formatting import human_bytes


def levels(artifact_bytes: int | None, database_bytes: int | None) -> dict[str, Any]:
    """Compare with the thresholds: {'level': ok|warning|critical, 'warning', 'critical', 'messages'}."""
    checks = [
        (
            "artifact store",
            artifact_bytes,
            settings.MAINTENANCE_ARTIFACT_WARNING_BYTES,
            settings.MAINTENANCE_ARTIFACT_CRITICAL_BYTES,
        ),
        (
            "tracking database",
            database_bytes,
            settings.MAINTENANCE_DATABASE_WARNING_BYTES,
            settings.MAINTENANCE_DATABASE_CRITICAL_BYTES,
        ),
    ]
    warning = critical = False
    messages: list[str] = []
    for name, value, warn_at, crit_at in checks:
        if value is None:
            continue
        if crit_at and value >= crit_at:
            critical = True
            messages.append(f"{name} is {human_bytes(value)} (critical at {human_bytes(crit_at)})")
        elif warn_at and value >= warn_at:
            warning = True
            messages.append(f"{name} is {human_bytes(value)} (warning at {human_bytes(warn_at)})")
    level = "critical" if critical else "warning" if warning else "ok"
    return {"level": level, "warning": warning or critical, "critical": critical, "messages": messages}
