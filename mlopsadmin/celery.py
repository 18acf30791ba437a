"""The Celery app. Worker settings live in settings.py (CELERY_*); the beat schedule in schedules.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlopsadmin.settings")

app = Celery("mlopsadmin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _install_beat_schedule(sender: Celery, **kwargs: object) -> None:
    from mlopsadmin.schedules import beat_schedule

    sender.conf.beat_schedule = beat_schedule()
