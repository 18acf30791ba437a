"""Capacity thresholds: the artifact store and tracking database sizes compared with the
MAINTENANCE_*_WARNING/CRITICAL_BYTES settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from mlopsadmin.core.formatting import human_bytes


def levels(
    artifact_bytes: int | None, database_bytes: int | None, *, artifact_measured: int | None = None
) -> dict[str, Any]:
    """Compare sizes in bytes with the thresholds: {'level': ok|warning|critical|unknown, 'warning',
    'critical', 'unknown', 'messages'}. None is unknown, never 0: the level is "unknown" unless what was
    measured (`artifact_measured`, the known part of an incomplete artifact sum) already crosses a threshold
    ("at least …"). 'warning' is true for warning and critical (the alert is sent)."""
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
    warning = critical = unknown = False
    messages: list[str] = []
    for name, value, warn_at, crit_at in checks:
        is_ = "is"
        if value is None:
            unknown = True
            value = artifact_measured if name == "artifact store" else None
            if not value:
                messages.append(f"{name} size unknown (not every location could be measured)")
                continue
            is_ = "is at least"
        if crit_at and value >= crit_at:
            critical = True
            messages.append(f"{name} {is_} {human_bytes(value)} (critical at {human_bytes(crit_at)})")
        elif warn_at and value >= warn_at:
            warning = True
            messages.append(f"{name} {is_} {human_bytes(value)} (warning at {human_bytes(warn_at)})")
        elif is_ != "is":
            messages.append(f"{name} size unknown: {human_bytes(value)} measured, some locations not")
    level = "critical" if critical else "warning" if warning else "unknown" if unknown else "ok"
    return {
        "level": level,
        "warning": warning or critical,
        "critical": critical,
        "unknown": unknown,
        "messages": messages,
    }
