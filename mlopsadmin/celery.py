"""The Celery app. Worker settings live in settings.py (CELERY_*); the beat schedule in schedules.py."""

import os

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlopsadmin.settings")

app = Celery("mlopsadmin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _install_beat_schedule(sender: Celery, **kwargs: object) -> None:
    from mlopsadmin.schedules import beat_schedule

    sender.conf.beat_schedule = beat_schedule()


@beat_init.connect
def _reload_beat_schedule(sender: object, **kwargs: object) -> None:
    """Django is set up by now: include the schedule overrides stored by apply_config."""
    from mlopsadmin.schedules import beat_schedule

    app.conf.beat_schedule = beat_schedule()
